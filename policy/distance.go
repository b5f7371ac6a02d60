package policy

import "math"

// EarthRadiusKm is the mean radius of the Earth (IUGG, (2a+b)/3 of WGS 84),
// the sphere on which Distance measures.
const EarthRadiusKm = 6371.0088

// distanceToleranceKm absorbs floating-point rounding when a distance is
// compared with a minimum: one millimetre, finer than coordinates given to
// eight decimals of a degree can express.
const distanceToleranceKm = 1e-6

// Distance returns the great-circle distance in km between a and b on a
// sphere of radius EarthRadiusKm, by the haversine formula, which stays
// accurate for small distances. The sphere differs from the WGS 84
// ellipsoid by at most about 0.5 %, far less than the margin any distance
// rule is written with.
func Distance(a, b LatLon) float64 {
	φ1, φ2 := radians(a.Lat), radians(b.Lat)
	dφ, dλ := radians(b.Lat-a.Lat), radians(b.Lon-a.Lon)
	h := sq(math.Sin(dφ/2)) + math.Cos(φ1)*math.Cos(φ2)*sq(math.Sin(dλ/2))
	return 2 * EarthRadiusKm * math.Asin(math.Sqrt(min(h, 1)))
}

// atLeast reports whether a distance reaches a minimum, to the millimetre.
func atLeast(d, minKm float64) bool { return d+distanceToleranceKm >= minKm }

func radians(deg float64) float64 { return deg * math.Pi / 180 }

func sq(x float64) float64 { return x * x }
