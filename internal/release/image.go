package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The container image is the static binary and the few directories it
// needs, nothing else: no shell, no package manager, no libc. It is
// assembled here without a Docker daemon; the Dockerfile builds the same
// configuration and files for people with Docker (TestDockerfileBuildsTheImage
// compares them).
const (
	// ImageName is the image's repository on Docker Hub, as resource.json
	// names it.
	ImageName = "turnout/turnout"
	// ImageBinary is where the binary is, as the Dockerfile puts it.
	ImageBinary = "/usr/local/bin/turnout"
	// ImageUser is the unprivileged user:group the image runs as, by
	// number: the image has no /etc/passwd to look a name up in.
	ImageUser = "10001:10001"
	// ImageDataDir is the store's directory, a volume owned by ImageUser.
	ImageDataDir = "/var/lib/turnout"
	// ImageAdminPort is the admin listener's port, which the image exposes.
	ImageAdminPort = "9880/tcp"
	// SourceURL is the repository, for the image's source label.
	SourceURL = "https://github.com/turnout/turnout"
)

// ImageConfig is the image's run configuration for version (vX.Y.Z) and
// revision (the commit; no label when empty): what the Dockerfile's USER,
// ENV, VOLUME, EXPOSE, LABEL, ENTRYPOINT and CMD say. The admin listener
// is on every interface (the binary's default, 127.0.0.1, is unreachable
// from outside a container), so serve needs TURNOUT_TOKEN or --token-file.
func ImageConfig(version, revision string) v1.Config {
	labels := map[string]string{
		"org.opencontainers.image.title":    "turnout",
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.source":   SourceURL,
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	if revision != "" {
		labels["org.opencontainers.image.revision"] = revision
	}
	return v1.Config{
		Entrypoint: []string{ImageBinary},
		Cmd:        []string{"serve"},
		User:       ImageUser,
		Env: []string{
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TURNOUT_ADMIN=0.0.0.0:9880",
			"TURNOUT_DATA_DIR=" + ImageDataDir,
		},
		ExposedPorts: map[string]struct{}{ImageAdminPort: {}},
		Volumes:      map[string]struct{}{ImageDataDir: {}},
		Labels:       labels,
	}
}

// ImageEntry is one entry of the image's only layer.
type ImageEntry struct {
	Name     string // relative, directories ending in /
	Mode     int64
	UID, GID int
}

// ImageFiles lists the layer, sorted: the binary, the data directory
// owned by the image's user, and /tmp (`turnout store check` copies the
// store there). The Dockerfile creates the same.
func ImageFiles() []ImageEntry {
	return []ImageEntry{
		{Name: "tmp/", Mode: 0o1777},
		{Name: "usr/", Mode: 0o755},
		{Name: "usr/local/", Mode: 0o755},
		{Name: "usr/local/bin/", Mode: 0o755},
		{Name: strings.TrimPrefix(ImageBinary, "/"), Mode: 0o755},
		{Name: "var/", Mode: 0o755},
		{Name: "var/lib/", Mode: 0o755},
		{Name: strings.TrimPrefix(ImageDataDir, "/") + "/", Mode: 0o755, UID: 10001, GID: 10001},
	}
}

// ImagePlatform is one platform of the image and its binary: the binary
// itself, or the release tarball (.tar.gz) holding it as "turnout", so
// that the image carries the very bytes that were released.
type ImagePlatform struct {
	OS, Arch, Binary string
}

// WriteImage writes out, an OCI image layout as a tar: an image index of
// one image per platform, tagged with version (without its v) as the
// layout's ref name. created is every time in it (the image's, the
// history's, each file's), so the same inputs give the same bytes.
func WriteImage(out, version, revision string, created time.Time, platforms []ImagePlatform) error {
	if err := CheckVersion(version); err != nil {
		return err
	}
	if len(platforms) == 0 {
		return fmt.Errorf("image: no platforms")
	}
	created = created.UTC().Truncate(time.Second)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img, err := platformImage(p, version, revision, created)
		if err != nil {
			return fmt.Errorf("image %s/%s: %w", p.OS, p.Arch, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch}},
		})
	}

	dir, err := os.MkdirTemp(filepath.Dir(out), ".image-*")
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("image: layout: %w", err)
	}
	// The tag as the OCI ref name, and the full name as containerd and
	// `docker load` read it, as `docker buildx build --output type=oci`
	// writes them.
	tag := strings.TrimPrefix(version, "v")
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
		"io.containerd.image.name":          "docker.io/" + ImageName + ":" + tag,
	})); err != nil {
		return fmt.Errorf("image: layout: %w", err)
	}
	return tarDir(out, dir, created)
}

// platformImage is the image for one platform: ImageFiles with p's binary
// and ImageConfig, in OCI media types.
func platformImage(p ImagePlatform, version, revision string, created time.Time) (v1.Image, error) {
	bin, err := readBinary(p.Binary)
	if err != nil {
		return nil, err
	}
	layerBytes, err := imageLayer(bin, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "scripts/release image", Comment: "the static turnout binary, " + ImageDataDir + " and /tmp"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Arch
	cf.Created = v1.Time{Time: created}
	cf.Config = ImageConfig(version, revision)
	return mutate.ConfigFile(img, cf)
}

// imageLayer is the gzipped tar of ImageFiles with bin as the binary,
// every mtime created. It is compressed here, at the best level, rather
// than by go-containerregistry, so that its bytes depend on nothing else.
func imageLayer(bin []byte, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, e := range ImageFiles() {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, Uid: e.UID, Gid: e.GID, ModTime: created, Format: tar.FormatPAX}
		if strings.HasSuffix(e.Name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(bin))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", e.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bin); err != nil {
				return nil, fmt.Errorf("layer: %s: %w", e.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return buf.Bytes(), nil
}

// readBinary reads a binary, or the "turnout" entry of a release tarball.
func readBinary(path string) ([]byte, error) {
	if !strings.HasSuffix(path, ".tar.gz") {
		return os.ReadFile(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: no turnout binary in it", path)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if h.Name == "turnout" && h.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}

// tarDir writes out, a tar of dir's files and directories, sorted, owned
// by 0:0, every mtime mtime (the layout's blobs are compressed already).
// It goes through a temporary file beside out, so a failed run leaves no
// half-written image.
func tarDir(out, dir string, mtime time.Time) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer os.Remove(tmp.Name())
	tw := tar.NewWriter(tmp)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error { // WalkDir goes in lexical order
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		var b []byte
		if d.IsDir() {
			h.Name, h.Mode, h.Typeflag = h.Name+"/", 0o755, tar.TypeDir
		} else if b, err = os.ReadFile(path); err != nil {
			return err
		}
		h.Size = int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = tmp.Chmod(0o644) // CreateTemp's is 0600
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		return fmt.Errorf("image %s: %w", out, err)
	}
	return nil
}
