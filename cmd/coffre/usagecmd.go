package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/coffre-cloud/coffre/vault"
)

// usageCmd prints a month's usage and cost per tenant and offer:
//
//	coffre usage --month 2026-11
type usageCmd struct{ stdout, stderr io.Writer }

// Storage is billed in GB-months: bytes stored integrated over the month,
// over 10^9 bytes times the month's length, as cloud catalogs bill it.
const gb = 1e9

func (c *usageCmd) Run(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("usage", flag.ContinueOnError)
	fl.SetOutput(c.stderr)
	sf := addSiteFlags(fl)
	month := fl.String("month", time.Now().UTC().Format("2006-01"), "month to report, YYYY-MM")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 0 {
		return fmt.Errorf("%w: usage [--month YYYY-MM]", errUsage)
	}
	start, err := time.Parse("2006-01", *month)
	if err != nil {
		return fmt.Errorf("--month %q: use YYYY-MM, e.g. 2026-11", *month)
	}
	seconds := start.AddDate(0, 1, 0).Sub(start).Seconds()
	st, err := openAdmin(sf)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.vault.MonthUsage(ctx, *month)
	if err != nil {
		return err
	}
	cur := st.cfg.Currency
	fmt.Fprintf(c.stdout, "usage of site %s in %s (storage in GB-months of 10^9 bytes; prices from the offers)\n", st.name, *month)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "TENANT\tOFFER\tSTORED BYTES\tBLOBS\tOBJECTS\tGB-MONTHS\tREQUESTS\tEGRESS BYTES\tPRICE/GB-MONTH\tCOST (%s)\t\n", cur)
	var (
		tenant string
		total  float64
		sum    vault.Usage
	)
	flush := func() {
		if tenant != "" {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.6f\t%d\t%d\t\t%.4f\t\n", tenant, "TOTAL", sum.Bytes, sum.Blobs, sum.Objects, sum.ByteSeconds/gb/seconds, sum.MonthRequests, sum.MonthEgress, total)
		}
		total, sum = 0, vault.Usage{}
	}
	for _, r := range rows {
		if r.Tenant != tenant {
			flush()
			tenant = r.Tenant
		}
		sum.Bytes += r.Bytes
		sum.Blobs += r.Blobs
		sum.Objects += r.Objects
		sum.ByteSeconds += r.ByteSeconds
		sum.MonthRequests += r.MonthRequests
		sum.MonthEgress += r.MonthEgress
		if r.Offer == "" {
			continue // the tenant's object count, shown in its total
		}
		price := 0.0
		if o := st.cfg.Offer(r.Offer); o != nil {
			price = o.PricePerGBMonth
		}
		gbm := r.ByteSeconds / gb / seconds
		cost := gbm * price
		total += cost
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t\t%.6f\t%d\t%d\t%g\t%.4f\t\n", r.Tenant, r.Offer, r.Bytes, r.Blobs, gbm, r.MonthRequests, r.MonthEgress, price, cost)
	}
	flush()
	return tw.Flush()
}
