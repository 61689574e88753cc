package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/turnout/turnout/core/store"
)

func newStoreCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Check, back up, restore and copy the store of desired state (--data-dir, --store)",
		Long: `Check, back up and restore the store of desired state: the bbolt file
turnout.db in the data dir (--data-dir), which holds every gateway and its
revisions. turnout serve checks it when it starts and refuses a damaged store.
turnout store copy moves the whole state between a data dir and ZooKeeper
(--store zk://...), where several agents share it.

Exit codes: 0 ok, 1 damaged or refused (the reason is printed), 2 usage, 3
the server could not be reached (backup --addr).`,
		Args: usageArgs(func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	cmd.AddCommand(newStoreCheckCommand(), newStoreBackupCommand(), newStoreRestoreCommand(), newStoreCopyCommand())
	return cmd
}

func dataDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "data-dir", store.DefaultDir(), "the data dir of the store [TURNOUT_DATA_DIR; under Mesos $MESOS_SANDBOX/turnout-data]")
}

func newStoreCheckCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Check the store, or a backup FILE: bbolt's consistency check and every revision's checksum",
		Long: `Check the store of --data-dir, or a backup FILE, without changing it: the
file's header and length, bbolt's consistency check, and the checksum of every
revision of every gateway and policy state. turnout serve runs the same check
when it starts.

A running turnout holds its store's lock: back it up through its API
(turnout store backup --addr), which checks the copy.

Exit codes: 0 sound, 1 damaged (or the file could not be checked), 2 usage.`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep *store.Report
			var err error
			if len(args) == 1 {
				if cmd.Flags().Changed("data-dir") {
					return usageErrorf("give --data-dir or a FILE to check, not both")
				}
				rep, err = store.Check(args[0])
			} else {
				rep, err = store.CheckDir(dir)
			}
			out := cmd.OutOrStdout()
			printReport(out, rep)
			switch {
			case errors.Is(err, store.ErrDamaged) && len(args) == 0:
				return &exitError{code: exitRefused, err: fmt.Errorf("%w\n%s", err, damageAdvice(dir, false))}
			case errors.Is(err, store.ErrDamaged):
				return &exitError{code: exitRefused, err: fmt.Errorf("%w\nthis backup cannot be restored: use another one", err)}
			case errors.Is(err, store.ErrLocked):
				return &exitError{code: exitRefused, err: fmt.Errorf("%w\nthe store is in use by a running turnout, which checked it when it started; "+
					"to check it now, back it up through its API: turnout store backup --addr HOST:PORT FILE", err)}
			case err != nil:
				return &exitError{code: exitRefused, err: err}
			}
			if rep.Unsummed > 0 {
				fmt.Fprintln(out, "sound: bbolt's consistency check passed; the revisions have no checksums yet (a store of an older turnout): turnout adds them when it opens the store")
			} else {
				fmt.Fprintln(out, "sound: bbolt's consistency check passed and every revision's checksum matches")
			}
			return nil
		},
	}
	dataDirFlag(cmd, &dir)
	return cmd
}

// printReport prints what a check found, as far as it got.
func printReport(w io.Writer, rep *store.Report) {
	if rep == nil || rep.Size == 0 && rep.Damage == 0 {
		return // nothing was read: the error says why
	}
	fmt.Fprintf(w, "store     %s\n", rep.Path)
	if rep.Size > 0 {
		fmt.Fprintf(w, "size      %d bytes", rep.Size)
		if rep.PageSize > 0 {
			fmt.Fprintf(w, " (page size %d, bbolt transaction %d)", rep.PageSize, rep.Txid)
		}
		fmt.Fprintln(w)
	}
	if rep.Schema > 0 {
		fmt.Fprintf(w, "schema    %d, store version %d\n", rep.Schema, rep.Version)
		fmt.Fprintf(w, "contents  %d %s, %d %s%s, %d %s kept\n", rep.Gateways, plural(rep.Gateways, "gateway", "gateways"),
			rep.Policies, plural(rep.Policies, "policy state", "policy states"), namedPart(rep.Conditions, rep.Routes), rep.Revisions, plural(rep.Revisions, "revision", "revisions"))
	}
	for _, s := range rep.Warnings {
		fmt.Fprintf(w, "warning   %s\n", s)
	}
	for _, s := range rep.Problems {
		fmt.Fprintf(w, "damage    %s\n", s)
	}
	if n := rep.Damage - len(rep.Problems); n > 0 {
		fmt.Fprintf(w, "damage    ... and %d more\n", n)
	}
}

// damageAdvice is what to do about a damaged store, as commands for dir.
func damageAdvice(dir string, check bool) string {
	var b strings.Builder
	b.WriteString("what to do:\n")
	if check {
		fmt.Fprintf(&b, "  list every problem:     turnout store check --data-dir %s\n", dir)
	}
	fmt.Fprintf(&b, `  put a backup in place:  turnout store restore --data-dir %[1]s BACKUP
                          (the damaged file is kept as turnout.db.damaged-TIME)
  or start empty:         move %[2]s and %[3]s away
                          (every stored gateway is gone; a file given with -f is loaded again)`,
		dir, filepath.Join(dir, store.FileName), filepath.Join(dir, store.MarkerFile))
	return b.String()
}

func newStoreBackupCommand() *cobra.Command {
	var dir, addr, token, caCert string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent, checked copy of the store to FILE (from a running turnout with --addr)",
		Long: `Write a consistent copy of the store to FILE. The copy is written next to
FILE, checked as turnout store check does, then renamed to FILE: FILE is either
a whole, sound backup or as it was.

A running turnout holds its store's lock: back it up through its API with
--addr (GET /api/v1/store/backup, with --token as the other API commands).
Without --addr, the store of --data-dir is read directly, which needs turnout
stopped. A damaged store is not backed up: copy the file itself (cp) to keep
it, and restore an older backup.

Exit codes: 0 ok, 1 refused (a damaged store or copy, a store in use), 2
usage, 3 the server could not be reached.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, out := args[0], cmd.OutOrStdout()
			if addr == "" {
				rep, err := store.BackupFile(dir, file)
				switch {
				case errors.Is(err, store.ErrLocked):
					return &exitError{code: exitRefused, err: fmt.Errorf("%w\nthe store is in use by a running turnout: back it up through its API: turnout store backup --addr HOST:PORT %s", err, file)}
				case errors.Is(err, store.ErrDamaged):
					printReport(out, rep)
					return &exitError{code: exitRefused, err: fmt.Errorf("%w\na damaged store is not backed up (nothing was written to %s); %s", err, file, damageAdvice(dir, true))}
				case err != nil:
					return &exitError{code: exitRefused, err: err}
				}
				printBackup(out, filepath.Join(dir, store.FileName), file, rep)
				return nil
			}
			if cmd.Flags().Changed("data-dir") {
				return usageErrorf("give --addr (a running turnout) or --data-dir (a stopped one), not both")
			}
			c, err := newClient(addr, cmp.Or(token, os.Getenv("TURNOUT_TOKEN")), caCert, timeout)
			if err != nil {
				return err
			}
			rep, err := store.SaveBackup(file, func(w io.Writer) error {
				_, err := c.download(cmd.Context(), "/store/backup", w)
				return err
			})
			if errors.Is(err, store.ErrDamaged) {
				printReport(out, rep)
				return &exitError{code: exitRefused, err: fmt.Errorf("%w\nthe running turnout's store is damaged: run turnout store check on its data dir once it is stopped", err)}
			} else if err != nil {
				var ee *exitError
				if errors.As(err, &ee) {
					return err
				}
				return &exitError{code: exitRefused, err: err}
			}
			printBackup(out, c.base, file, rep)
			return nil
		},
	}
	dataDirFlag(cmd, &dir)
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "", "back up a running turnout through its API: its admin address, URL or host:port")
	fl.StringVar(&token, "token", "", "API token, sent as a bearer token [TURNOUT_TOKEN]")
	fl.StringVar(&caCert, "ca-cert", envOr("TURNOUT_CA_CERT", ""), "PEM file of the CA to trust for an https --addr [TURNOUT_CA_CERT]")
	fl.DurationVar(&timeout, "timeout", 2*time.Minute, "how long the copy from the API may take")
	return cmd
}

func printBackup(w io.Writer, from, file string, rep *store.Report) {
	fmt.Fprintf(w, "backed up %s to %s: %d %s, %d %s%s, store version %d (%d bytes, checked: sound)\n", from, file,
		rep.Gateways, plural(rep.Gateways, "gateway", "gateways"), rep.Policies, plural(rep.Policies, "policy state", "policy states"),
		namedPart(rep.Conditions, rep.Routes), rep.Version, rep.Size)
}

func newStoreRestoreCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Put a backup in place as the store of --data-dir (turnout stopped)",
		Long: `Put the backup FILE in place as the store of --data-dir. The backup is
checked first and refused if it is damaged. The store file it replaces is never
deleted: it is kept as turnout.db.damaged-TIME if it fails its check,
turnout.db.replaced-TIME if not (UTC). A store a running turnout holds is
refused: stop turnout, restore, start it again.

Exit codes: 0 ok, 1 refused (a damaged backup, a store in use), 2 usage.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := store.Restore(dir, args[0])
			out := cmd.OutOrStdout()
			if err != nil {
				if res != nil && errors.Is(err, store.ErrDamaged) {
					printReport(out, res.Backup)
				}
				return &exitError{code: exitRefused, err: err}
			}
			rep := res.Backup
			fmt.Fprintf(out, "restored %s to %s: %d %s, %d %s%s, store version %d\n", args[0], filepath.Join(dir, store.FileName),
				rep.Gateways, plural(rep.Gateways, "gateway", "gateways"), rep.Policies, plural(rep.Policies, "policy state", "policy states"),
				namedPart(rep.Conditions, rep.Routes), rep.Version)
			switch {
			case res.Kept != "" && res.KeptDamage != nil:
				fmt.Fprintf(out, "the damaged store file it replaced is kept as %s\n", res.Kept)
			case res.Kept != "":
				fmt.Fprintf(out, "the store file it replaced is kept as %s\n", res.Kept)
			}
			return nil
		},
	}
	dataDirFlag(cmd, &dir)
	return cmd
}

func newStoreCopyCommand() *cobra.Command {
	var from, to string
	var force bool
	cmd := &cobra.Command{
		Use:   "copy --from URL --to URL",
		Short: "Copy every gateway with its revisions and policy state between stores (bolt://DIR, zk://HOSTS/PATH)",
		Long: `Copy the whole desired state from one store to another: every gateway with
all its kept revisions (their numbers, times and reasons; deleted gateways
too, so that their numbering goes on), every policy state, and the store
version. Store URLs are those of turnout serve --store:

  bolt://DIR                                   the bbolt store of a data dir
  zk://[USER:PASSWORD@]HOST:PORT[,...]/PATH    ZooKeeper, shared by agents

Every record's checksum is checked as it is read and written anew. A bbolt
store must not be in use: stop the turnout serving it. A destination that
holds anything is refused; --force replaces what it holds (which is lost:
back it up first). Agents serving the destination path see the copy arrive
in steps: copy into a path no agent serves yet.

Exit codes: 0 ok, 1 refused (a destination not empty, a store in use or
unreachable, a damaged record), 2 usage.`,
		Example: `  turnout store copy --from bolt:///var/lib/turnout --to zk://master.mesos:2181/turnout
  turnout store copy --from zk://master.mesos:2181/turnout --to bolt://./backup`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return usageErrorf("give both --from URL and --to URL")
			}
			src, err := store.ParseURL(from)
			if err != nil {
				return usageErrorf("--from: %v", err)
			}
			dst, err := store.ParseURL(to)
			if err != nil {
				return usageErrorf("--to: %v", err)
			}
			if sameLocation(src, dst) {
				return usageErrorf("--from and --to are the same store: %s", src)
			}
			ctx := cmd.Context()
			if src.Scheme == "bolt" {
				if _, err := os.Stat(filepath.Join(src.Dir, store.FileName)); err != nil {
					return &exitError{code: exitRefused, err: fmt.Errorf("--from %s: no store there: %w", src, err)}
				}
			}
			src.ZK.MustExist = true
			in, err := openForCopy(ctx, "--from", src)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := openForCopy(ctx, "--to", dst)
			if err != nil {
				return err
			}
			defer out.Close()
			res, err := store.Copy(ctx, in, out, force)
			switch {
			case errors.Is(err, store.ErrNotEmpty):
				return &exitError{code: exitRefused, err: fmt.Errorf("--to %s: %w; --force replaces what it holds (back it up first)", dst, err)}
			case err != nil:
				return &exitError{code: exitRefused, err: fmt.Errorf("copy from %s to %s: %w", src, dst, err)}
			}
			if err := out.Close(); err != nil {
				return &exitError{code: exitRefused, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied %s to %s: %d %s, %d %s%s, %d %s, store version %d\n", src, dst,
				res.Gateways, plural(res.Gateways, "gateway", "gateways"), res.Policies, plural(res.Policies, "policy state", "policy states"),
				namedPart(res.Conditions, res.Routes), res.Revisions, plural(res.Revisions, "revision", "revisions"), res.Version)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "the store to copy: bolt://DIR or zk://[USER:PASSWORD@]HOST:PORT[,...]/PATH")
	fl.StringVar(&to, "to", "", "the store to copy into, created if absent: bolt://DIR or zk://...")
	fl.BoolVar(&force, "force", false, "replace what the destination holds")
	return cmd
}

// openForCopy opens one side of store copy, saying which flag failed.
func openForCopy(ctx context.Context, flag string, loc store.Location) (store.Copier, error) {
	st, err := store.OpenLocation(ctx, loc, nil)
	switch {
	case errors.Is(err, store.ErrLocked):
		return nil, &exitError{code: exitRefused, err: fmt.Errorf("%s %s: %w\nthe store is in use by a running turnout: stop it first", flag, loc, err)}
	case err != nil:
		return nil, &exitError{code: exitRefused, err: fmt.Errorf("%s %s: %w", flag, loc, err)}
	}
	return st, nil
}

// sameLocation reports whether two store URLs name one store.
func sameLocation(a, b store.Location) bool {
	if a.Scheme != b.Scheme {
		return false
	}
	if a.Scheme == "bolt" {
		x, errx := filepath.Abs(a.Dir)
		y, erry := filepath.Abs(b.Dir)
		return errx == nil && erry == nil && x == y
	}
	return a.ZK.Path == b.ZK.Path && slices.Equal(a.ZK.Servers, b.ZK.Servers)
}

// namedPart counts named conditions and stored routes in a store line,
// each when there are any (a store without them reads as before).
func namedPart(conds, routes int) string {
	var s string
	if conds > 0 {
		s += fmt.Sprintf(", %d %s", conds, plural(conds, "named condition", "named conditions"))
	}
	if routes > 0 {
		s += fmt.Sprintf(", %d %s", routes, plural(routes, "stored route", "stored routes"))
	}
	return s
}
