package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/nodes/images"
)

func imageCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Images in the cluster's store, for nodes that reach no registry"}
	var (
		f     clusterFlags
		names []string
	)
	push := &cobra.Command{
		Use:   "push ARCHIVE.tar",
		Short: "Store an image archive (docker save or OCI layout tar) in the cluster, so that pods can use it by name",
		Example: `  go run ./examples/webserver/build -o web.tar
  skiff image push web.tar
  skiff image push --name registry.local/web:1.0 web.tar`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := f.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer conn.Close()
			s, err := blobs.Open(cmd.Context(), conn, blobs.Config{Bucket: subjects.ImagesBucket})
			if err != nil {
				return err
			}
			p, err := images.Push(cmd.Context(), s, args[0], names)
			if err != nil {
				return err
			}
			verb := "pushed"
			if p.Existed {
				verb = "already had"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "skiff: %s %s (%s, %s)\n", verb, strings.Join(p.Names, ", "), p.Digest, size(p.Size))
			return nil
		},
	}
	f.register(push)
	push.Flags().StringSliceVar(&names, "name", nil, "name:tag to give the image (repeatable; default: the names in the archive)")

	var lf clusterFlags
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the images in the cluster's store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := lf.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer conn.Close()
			s, err := blobs.Bind(cmd.Context(), conn, subjects.ImagesBucket)
			var list []images.Listed
			if err == nil {
				list, err = images.List(cmd.Context(), s)
			}
			if err != nil && !isNotFound(err) {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE\tPUSHED")
			for _, l := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Name, l.Digest, size(l.Size), l.Pushed.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	lf.register(ls)
	cmd.AddCommand(push, ls)
	return cmd
}

func isNotFound(err error) bool { return errors.Is(err, blobs.ErrNotFound) }

// size prints a byte count in the units docker uses.
func size(n uint64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
