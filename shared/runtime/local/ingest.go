package local

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/focus"
	"github.com/cloudtrim/cloudtrim/shared/forecast"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/report"
)

func cmdIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("ingest", "Reads billing exports (FOCUS 1.0–1.2; AWS CUR legacy, Athena/Parquet, Hive and 2.0; Azure EA/MCA cost exports; Google Cloud billing export as CSV or JSON lines), converts them to FOCUS 1.2 and commits one billing snapshot per cloud.\n\nUsage: cloudtrim ingest [flags] <file, folder or URL>...", stderr)
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	// Flags may come before or after the files.
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(paths) == 0 {
		return usageError{fmt.Errorf("name at least one file, folder or URL to ingest")}
	}
	rt, err := c.open(ctx, stderr, EstateConfig{})
	if err != nil {
		return err
	}
	defer rt.Close()
	res, err := rt.Ingest(ctx, paths, stderr)
	if res != nil {
		if *jsonOut {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(res); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			PrintIngest(stdout, res)
		}
	}
	return err
}

// Ingest reads billing exports into the lake, printing progress on
// progress when it is a terminal.
func (rt *Runtime) Ingest(ctx context.Context, args []string, progress io.Writer) (*pipeline.IngestResult, error) {
	src, err := pipeline.ExpandSources(ctx, args)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	opts := pipeline.IngestOptions{}
	if isTerminal(progress) {
		opts.Progress = func(p pipeline.IngestProgress) {
			secs := max(p.Elapsed.Seconds(), 1e-3)
			fmt.Fprintf(progress, "\r   %d/%d files · %d rows · %.0f rows/s · %s read   ", p.Files, len(src.Inputs), p.Rows,
				float64(p.Rows)/secs, byteSize(p.Bytes))
		}
	}
	res, err := rt.Pipeline.Ingest(ctx, src, opts)
	if opts.Progress != nil {
		fmt.Fprintln(progress)
	}
	return res, err
}

// PrintIngest prints what an ingest run read, kept and rejected.
func PrintIngest(w io.Writer, res *pipeline.IngestResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   file\tformat\trows\tkept\trejected\tread")
	for _, f := range res.Files {
		fmt.Fprintf(tw, "   %s\t%s\t%d\t%d\t%d\t%s\n", f.File, f.Format, f.Rows, f.Kept, f.Rejected, byteSize(f.Bytes))
	}
	tw.Flush()
	t := res.Total
	secs := max(res.Elapsed.Seconds(), 1e-3)
	fmt.Fprintf(w, "   %d files, %d rows (%.0f rows/s, %s read), %d kept, %d rejected\n", len(res.Files), t.Rows, float64(t.Rows)/secs, byteSize(t.Bytes), t.Kept, t.Rejected)
	for _, cur := range sortedKeys(t.Totals) {
		tot := t.Totals[cur]
		fmt.Fprintf(w, "   %s: billed %s, effective %s, list %s kept; %s billed rejected; lake holds billed %s, effective %s\n", cur,
			amount(tot.Kept[0], cur), amount(tot.Kept[1], cur), amount(tot.Kept[2], cur), amount(tot.Rejected[0], cur),
			amount(res.ReadBack[cur][0], cur), amount(res.ReadBack[cur][1], cur))
	}
	if len(t.ByRule) > 0 {
		fmt.Fprintln(w, "   rejected rows per rule:")
		for _, r := range focus.Rules {
			if n := t.ByRule[r]; n > 0 {
				fmt.Fprintf(w, "     %-24s %d\n", r, n)
				shown := 0
				for _, ex := range t.Examples {
					if ex.Rule == r && shown < 3 {
						fmt.Fprintf(w, "       e.g. %s\n", ex)
						shown++
					}
				}
			}
		}
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "   skipped %s\n", s)
	}
	clouds := make([]string, 0, len(res.Commits))
	for c := range res.Commits {
		clouds = append(clouds, string(c))
	}
	sort.Strings(clouds)
	for _, c := range clouds {
		m := res.Commits[domain.Cloud(c)]
		fmt.Fprintf(w, "   committed billing %s run %s: %d rows, months %s\n", c, m.RunID, m.Tables["costs"].Rows, strings.Join(m.Periods, " "))
	}
}

func amount(micros int64, cur string) string {
	return domain.Money{Micros: micros, Currency: cur}.String()
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DemoBillingDays is how much bill history the demo exports and ingests.
const DemoBillingDays = 90

func demoIngest(ctx context.Context, rt *Runtime, stdout, stderr io.Writer) error {
	dir := rt.dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cloudtrim-exports-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	dir = filepath.Join(dir, "exports")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	files, err := rt.Sim.Estate.ExportBilling(dir, DemoBillingDays)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "   wrote %d export files under %s\n", len(files), dir)
	res, err := rt.Ingest(ctx, []string{dir}, stderr)
	if res != nil {
		PrintIngest(stdout, res)
	}
	return err
}

// printSpend prints the cloud-level forecasts, the anomalies and the
// bill check of a plan.
func printSpend(w io.Writer, plan domain.Plan, sp *forecast.Result) {
	if sp != nil {
		fmt.Fprintln(w, "   spend forecast (next 30 days, 95% range, backtest error):")
		for _, f := range sp.Forecasts {
			if f.Key.Level != forecast.LevelCloud || f.HorizonDays != 30 {
				continue
			}
			mape := "no backtest"
			if f.MAPE != nil {
				mape = fmt.Sprintf("MAPE %.1f%%", *f.MAPE*100)
			}
			fmt.Fprintf(w, "     %-6s %s (%s – %s), %s\n", f.Key.Cloud, f.Total, f.TotalLower95, f.TotalUpper95, mape)
		}
		fmt.Fprintf(w, "   cost anomalies: %d\n", len(sp.Anomalies))
		for _, l := range report.AnomalyLines(sp, 5) {
			fmt.Fprintf(w, "     %s\n", l)
		}
	}
	for _, bc := range plan.BillChecks {
		if !bc.ResourceRows {
			continue
		}
		fmt.Fprintf(w, "   %s bill vs inventory (%s): %d billed resources not inventoried (%s), %d inventoried resources not billed\n",
			bc.Cloud, bc.Source, bc.BilledNotInInventory, bc.BilledNotInInventoryCost, bc.InventoryNotBilled)
	}
}
