package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/coffre-cloud/coffre/config"
	"github.com/coffre-cloud/coffre/policy"
)

// placementCmd explains placement decisions:
//
//	coffre placement explain --tenant T --sensitivity S
//	coffre placement explain --bucket B
type placementCmd struct{ stdout, stderr io.Writer }

func (c *placementCmd) Run(ctx context.Context, args []string) error {
	const use = "placement explain --tenant T --sensitivity high|medium|low | placement explain --bucket B"
	if len(args) == 0 || args[0] != "explain" {
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	fl := flag.NewFlagSet("placement explain", flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	sf := addSiteFlags(fl)
	tenant := fl.String("tenant", "", "tenant whose buckets are placed")
	sens := fl.String("sensitivity", "", "sensitivity of the bucket: high, medium or low")
	bucket := fl.String("bucket", "", "an existing bucket: where it is, and why")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	if fl.NArg() != 0 || (*bucket == "") == (*tenant == "") || *bucket != "" && *sens != "" {
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	if *bucket != "" {
		return c.bucket(ctx, sf, *bucket)
	}
	if *sens == "" {
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	s, err := policy.ParseSensitivity(*sens)
	if err != nil {
		return err
	}
	cfg, site, err := sf.load()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "site %s, tenant %s, sensitivity %s\n", site.Name, *tenant, s)
	return explain(c.stdout, cfg, site, *tenant, s, "")
}

// bucket prints where a bucket is, why, and its migration.
func (c *placementCmd) bucket(ctx context.Context, sf *siteFlags, name string) error {
	st, err := openAdmin(sf)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := st.vault.BucketInfo(ctx, name)
	if err != nil {
		return err
	}
	offer := b.Offer
	if offer == "" {
		offer = st.cfg.Site(st.name).Offers[0]
	}
	fmt.Fprintf(c.stdout, "bucket %s: site %s, tenant %s, sensitivity %s, offer %s\n", b.Name, st.name, b.Tenant, b.Sensitivity, offer)
	if m := b.Migration; m != nil {
		pct := 100.0
		if m.Blobs > 0 {
			pct = 100 * float64(m.MovedBlobs) / float64(m.Blobs)
		}
		fmt.Fprintf(c.stdout, "migration: in progress from %s to %s for sensitivity %s: %d of %d blobs (%d of %d bytes, %.0f%%) since %s\n",
			m.From, offer, m.To, m.MovedBlobs, m.Blobs, m.MovedBytes, m.Bytes, pct, m.Started.Format(time.RFC3339))
		if m.LastError != "" {
			fmt.Fprintf(c.stdout, "  paused at %s, retrying: %s\n", m.LastAttempt.Format(time.RFC3339), m.LastError)
		}
	} else {
		fmt.Fprintln(c.stdout, "migration: none")
	}
	return explain(c.stdout, st.cfg, st.cfg.Site(st.name), b.Tenant, b.Sensitivity, offer)
}

// explain prints the decision of the rules for a tenant's bucket of
// sensitivity s at a site: the chosen offer (or current, when the bucket
// exists), every allowed one, every rejected one with its rule, and the
// twin rule.
func explain(w io.Writer, cfg *config.Config, site *config.Site, tenant string, s policy.Sensitivity, current string) error {
	d, err := cfg.Place(site.Name, tenant, s)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	describe := func(o policy.Offer) string {
		return fmt.Sprintf("%s, under %s law, hosted in %s, %g %s/GB-month", o.Tier, o.Jurisdiction, o.HostedIn, o.PricePerGBMonth, cfg.Currency)
	}
	switch {
	case current != "":
		ok := false
		for _, o := range d.Allowed {
			if o.Name == current {
				ok = true
				fmt.Fprintf(tw, "current:\t%s\t%s: allowed\n", o.Name, describe(o))
			}
		}
		if !ok {
			fmt.Fprintf(tw, "current:\t%s\tnot allowed for sensitivity %s (a migration moves its data)\n", current, s)
		}
	case err == nil:
		how := "the rules' preference: most protective tier, then lowest price, then name"
		if d.ByChoice {
			how = "the tenant's choice"
		}
		fmt.Fprintf(tw, "chosen:\t%s\t%s (%s)\n", d.Chosen.Name, describe(d.Chosen), how)
	default:
		fmt.Fprintf(tw, "chosen:\tnone\tno offer is allowed\n")
	}
	for _, o := range d.Allowed {
		fmt.Fprintf(tw, "allowed:\t%s\t%s\n", o.Name, describe(o))
	}
	for _, r := range d.Rejected {
		fmt.Fprintf(tw, "rejected:\t%s\trule %s: %s\n", r.Offer, r.Rule, r.Error())
	}
	twin := policy.Site{}
	if t := cfg.Twin(site.Name); t != nil {
		twin = t.Policy("")
	}
	me := site.Policy(twin.Name)
	switch refs := policy.TwinRefusals(cfg.PolicyRules(), s, me, twin); {
	case len(refs) > 0:
		for _, r := range refs {
			fmt.Fprintf(tw, "twin:\t%s\trule %s: %s\n", site.Name, r.Rule, r.Error())
		}
	case twin.Name != "":
		fmt.Fprintf(tw, "twin:\t%s\t%.1f km away, under %s law: allowed\n", twin.Name, policy.Distance(me.Location, twin.Location), twin.Jurisdiction)
	default:
		fmt.Fprintf(tw, "twin:\tnone\tnot required for sensitivity %s\n", s)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if current == "" && err != nil {
		return fmt.Errorf("placement refused: %w", err)
	}
	return nil
}
