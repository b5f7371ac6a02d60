package policy

import (
	"fmt"
	"math"
	"testing"
)

var (
	monaco = LatLon{43.7384, 7.4246}
	bissen = LatLon{49.7875, 6.0656} // the Luxembourg data center of Monaco's data embassy
	paris  = LatLon{48.8566, 2.3522}
	london = LatLon{51.5074, -0.1278}
	lyon   = LatLon{45.7640, 4.8357}
)

// cosineDistance is the spherical law of cosines: another formula for the
// same sphere, accurate in float64 beyond a few metres.
func cosineDistance(a, b LatLon) float64 {
	φ1, φ2, dλ := radians(a.Lat), radians(b.Lat), radians(b.Lon-a.Lon)
	c := math.Sin(φ1)*math.Sin(φ2) + math.Cos(φ1)*math.Cos(φ2)*math.Cos(dλ)
	return EarthRadiusKm * math.Acos(max(-1, min(1, c)))
}

// vincentyDistance is Vincenty's inverse formula on the WGS 84 ellipsoid:
// an independent model of the Earth, which the sphere must agree with to
// within its known 0.5 %.
func vincentyDistance(t *testing.T, p, q LatLon) float64 {
	const (
		a = 6378137.0
		f = 1 / 298.257223563
		b = a * (1 - f)
	)
	L := radians(q.Lon - p.Lon)
	U1 := math.Atan((1 - f) * math.Tan(radians(p.Lat)))
	U2 := math.Atan((1 - f) * math.Tan(radians(q.Lat)))
	sinU1, cosU1 := math.Sincos(U1)
	sinU2, cosU2 := math.Sincos(U2)
	λ := L
	for range 200 {
		sinλ, cosλ := math.Sincos(λ)
		sinσ := math.Hypot(cosU2*sinλ, cosU1*sinU2-sinU1*cosU2*cosλ)
		if sinσ == 0 {
			return 0
		}
		cosσ := sinU1*sinU2 + cosU1*cosU2*cosλ
		σ := math.Atan2(sinσ, cosσ)
		sinα := cosU1 * cosU2 * sinλ / sinσ
		cos2α := 1 - sinα*sinα
		cos2σm := 0.0
		if cos2α != 0 {
			cos2σm = cosσ - 2*sinU1*sinU2/cos2α
		}
		C := f / 16 * cos2α * (4 + f*(4-3*cos2α))
		prev := λ
		λ = L + (1-C)*f*sinα*(σ+C*sinσ*(cos2σm+C*cosσ*(-1+2*cos2σm*cos2σm)))
		if math.Abs(λ-prev) < 1e-12 {
			u2 := cos2α * (a*a - b*b) / (b * b)
			A := 1 + u2/16384*(4096+u2*(-768+u2*(320-175*u2)))
			B := u2 / 1024 * (256 + u2*(-128+u2*(74-47*u2)))
			dσ := B * sinσ * (cos2σm + B/4*(cosσ*(-1+2*cos2σm*cos2σm)-B/6*cos2σm*(-3+4*sinσ*sinσ)*(-3+4*cos2σm*cos2σm)))
			return b * A * (σ - dσ) / 1000
		}
	}
	t.Fatalf("Vincenty did not converge for %v %v", p, q)
	return 0
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b LatLon
		want float64 // km on the sphere, to the metre
	}{
		{"monaco-bissen", monaco, bissen, 680.517},
		{"paris-london", paris, london, 343.557},
		{"paris-lyon", paris, lyon, 391.499},
		{"same-point", monaco, monaco, 0},
		{"quarter-meridian", LatLon{0, 0}, LatLon{90, 0}, math.Pi / 2 * EarthRadiusKm},
		{"half-equator", LatLon{0, -90}, LatLon{0, 90}, math.Pi * EarthRadiusKm},
		{"across-antimeridian", LatLon{0, 179.5}, LatLon{0, -179.5}, math.Pi / 180 * EarthRadiusKm},
	} {
		t.Run("pair="+tc.name, func(t *testing.T) {
			got := Distance(tc.a, tc.b)
			if math.Abs(got-tc.want) > 0.001 {
				t.Fatalf("Distance(%v, %v) = %.6f km, want %.3f", tc.a, tc.b, got, tc.want)
			}
			if back := Distance(tc.b, tc.a); math.Abs(back-got) > 1e-9 {
				t.Fatalf("Distance is not symmetric: %.9f one way, %.9f the other", got, back)
			}
			if c := cosineDistance(tc.a, tc.b); math.Abs(c-got) > 0.01 {
				t.Fatalf("haversine %.6f km, law of cosines %.6f km: the formulas disagree", got, c)
			}
			if tc.want == 0 || tc.want > 15000 {
				return // Vincenty's iteration does not converge for (nearly) antipodal points
			}
			if v := vincentyDistance(t, tc.a, tc.b); math.Abs(v-got)/v > 0.005 {
				t.Fatalf("sphere %.3f km, WGS 84 ellipsoid (Vincenty) %.3f km: more than 0.5 %% apart", got, v)
			}
		})
	}
}

// pointNorth returns the point km kilometres north of p along its meridian.
func pointNorth(p LatLon, km float64) LatLon {
	return LatLon{p.Lat + km/EarthRadiusKm*180/math.Pi, p.Lon}
}

func TestDistanceAlongMeridian(t *testing.T) {
	for _, km := range []float64{0.001, 1, 119.999, 120, 120.001, 1000} {
		for _, from := range []LatLon{{0, 0}, {45, 5}, {-60, 170}} {
			t.Run(fmt.Sprintf("km=%g/from=%v", km, from), func(t *testing.T) {
				if got := Distance(from, pointNorth(from, km)); math.Abs(got-km) > 1e-9 {
					t.Fatalf("Distance = %.12f km, want %g", got, km)
				}
			})
		}
	}
}

func BenchmarkDistance(b *testing.B) {
	for b.Loop() {
		Distance(monaco, bissen)
	}
}
