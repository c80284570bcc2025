// Package images builds, locally, the container images that faultline's
// Docker backend runs nodes in. Nothing is ever pulled or pushed: the
// engine needs no registry, and every image is made here from faultline's
// own binary and Debian's packages.
//
// # The images
//
// Each is labelled io.faultline.image=<name> and io.faultline.recipe=<hex
// SHA-256 of everything that went into it>.
//
//   - faultline/etcd:<first 16 hex of the binary's SHA-256>: FROM scratch
//     plus faultline's static binary at /faultline, and nothing else (no
//     entrypoint, no command: the backend gives each container its
//     command). faultline's binary runs etcd members itself, so this is
//     all an etcd node needs. About 50 MB.
//   - faultline/debian-postgresql:<first 16 hex of its recipe hash>: the
//     base of the next one, Debian 12 (bookworm) made by
//     `debootstrap --variant=minbase --include=postgresql,util-linux,procps,iproute2`:
//     Debian's PostgreSQL 15 (and its postgres user), setpriv, ps and ip.
//     About 360 MB, most of it LLVM, which Debian's PostgreSQL depends on
//     for its JIT.
//   - faultline/postgres:<binary hash prefix>: the base plus /faultline.
//
// # How they are built
//
// The etcd and postgres images go through the engine's ImageBuild with an
// in-memory tar build context (a two-line Dockerfile, FROM and COPY, and
// the binary, whose bytes are hashed again on the way in, so the tag names
// what the image holds). Builds use the engine's own (legacy) builder,
// which needs no BuildKit session, with PullParent false and no network:
// FROM scratch is never pulled, and the postgres image's FROM is the base,
// which Ensure has made sure is in the engine just before. The binary must
// be static (CGO_ENABLED=0): a dynamically linked one would find no C
// library in FROM scratch, and Ensure says so (ErrDynamic) before building
// anything, the minutes-long base included.
//
// The base image is made from a debootstrap root filesystem in a temporary
// directory, because no Debian image can be pulled. debootstrap fetches
// from the first "deb" source for bookworm in the host's apt sources
// (sources.list, then sources.list.d/*.list and *.sources), else from
// http://deb.debian.org/debian, so a host that reaches Debian only
// through its own mirror builds through it too (see Mirror). Then apt-get
// clean runs in the chroot; apt's lists, PostgreSQL's default cluster (the
// postgres target runs initdb in a directory of its own), documentation
// but for each package's copyright file, manual pages, info and
// translations are removed, as Debian's -slim images do (PostgreSQL's
// messages stay in English); debootstrap's copies of the host's
// resolv.conf and hostname are emptied (the engine provides both in
// containers). The tree is streamed as a tar to the engine's ImageImport:
// one layer, numeric owners, modes, symlinks and hard links kept, /dev,
// /proc and /sys left empty (the engine mounts its own), sockets left out;
// extended attributes are not carried (nothing here sets file
// capabilities: iproute2's postinst would, with setcap, which minbase
// lacks). The import sets PATH to Debian's plus
// /usr/lib/postgresql/15/bin, so initdb and postgres are found by name.
// debootstrap needs root and takes a minute or more (longer on a slow
// mirror): progress lines say which step it is in and the time elapsed.
// On cancellation debootstrap's process group gets SIGTERM, so that it
// unmounts what it mounted in the chroot; the temporary directory is
// removed only once nothing is mounted under it.
//
// # Reuse, and two builders at once
//
// An image is reused when the engine has its tag with the same recipe
// label; otherwise it is built and tagged (moving the tag). The base's
// recipe hash covers the suite, variant, package list, architecture, PATH,
// trimmed paths and the recipe version (bumped whenever a step changes);
// not the mirror, nor the packages' versions: the base is a snapshot of
// the suite when it was built, and is rebuilt only when its recipe changes
// or someone removes it. The other images' recipes cover their Dockerfile
// (and so the base's tag) and the binary's hash.
//
// Builds of one image are serialized across processes by a flock on
// /run/faultline/images/<name>.lock (a directory of its own, apart from
// the local backend's run locks; $TMPDIR/faultline-images-<uid> when not
// root), held for the whole build; whoever waited looks again and finds
// the image made. The engine tags an image only once it is complete, so an
// interrupted build leaves nothing under the tag.
//
// Images are not removed by faultline: each faultline build that ran the
// Docker backend leaves its etcd and postgres images (about 50 MB more
// each, the base being shared). `faultline image list` shows them, and
// `docker rmi` removes them. Tests remove the images of the binaries they
// build, but leave the base: it is the cache that later tests reuse.
//
// # Dependencies
//
//   - github.com/docker/docker/client v28.5.2: Docker's own Go client of
//     the Engine API, so faultline talks to the engine's socket directly
//     (no docker CLI needed, typed not-found errors, streamed build and
//     import bodies), honouring DOCKER_HOST and friends. It is the last
//     release of that module (the client has since moved to
//     github.com/moby/moby/client with new types), and with API version
//     negotiation it talks to Debian 12's engine 20.10, which speaks API
//     1.41.
//   - github.com/pkg/errors v0.9.1: the client's module has no go.mod
//     (+incompatible), so nothing pins the pkg/errors it uses; an older
//     one lacks errors.Is and the client does not compile.
//   - github.com/containerd/errdefs: the error classes the client returns
//     (IsNotFound), which replace the client's deprecated IsErrNotFound.
package images
