#!/usr/bin/env bash
# Builds a stand-in for the `debian:bookworm-slim` image where no image registry can be reached:
# debootstrap (minbase) from a Debian mirror into DIR, trimmed the way the official slim image is
# (no docs, man pages or locales; apt keeps no package lists or downloaded .debs), then imported
# into the Docker engine named by DOCKER_HOST under each TAG given. DIR must not exist yet; it is
# left in place for the caller to remove.
#
#   docker/base-image.sh DIR MIRROR TAG...
#   e.g. docker/base-image.sh /tmp/x/rootfs http://deb.debian.org/debian debian:bookworm-slim
#
# Needs root, debootstrap and a docker CLI. Used by scripts/docker-check.sh; also what an
# operator on a machine without Docker Hub access runs before `docker build`.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 DIR MIRROR TAG..." >&2
  exit 2
fi
dir=$1 mirror=$2
shift 2
docker=${DOCKER:-docker}

debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 || {
  tail -n 30 "$dir.debootstrap.log" >&2
  echo "base-image: debootstrap from $mirror failed (log above)" >&2
  exit 1
}
rm -f "$dir.debootstrap.log"

# What the official slim image does (debuerreotype's --slimify and its apt settings).
cat >"$dir/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$dir/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$dir/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$dir/etc/apt/apt.conf.d/docker-autoremove-suggests"
find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$dir"/usr/share/{man,groff,info,lintian,linda,locale}/* \
  "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* \
  "$dir"/var/log/*.log "$dir"/var/log/apt/* "$dir/etc/hostname" "$dir/etc/resolv.conf"
# Docker mounts these at run time; the image carries empty ones.
: >"$dir/etc/hostname"
: >"$dir/etc/resolv.conf"

first=$1
tar --numeric-owner -C "$dir" -cf - . |
  "$docker" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$first" >/dev/null
shift
for tag in "$@"; do
  "$docker" tag "$first" "$tag"
done
echo "base-image: $first imported ($("$docker" image inspect -f '{{.Size}}' "$first" | awk '{printf "%.0f MB", $1 / 1e6}'))"
