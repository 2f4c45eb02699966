#!/bin/sh
# Build the root file system of the air-gapped base image from a Debian mirror.
#
#   build-rootfs.sh SUITE ROOTFS MIRROR PACKAGES CACHE_DIR
#
# PACKAGES is comma-separated (debootstrap --include). Needs root and debootstrap.
# `jupyterhub-ds images build` runs this, then `tar -C ROOTFS -c . | docker import -`.
# The hash of this file is part of the base image's input hash: editing it rebuilds the base.
set -eu
suite=$1 rootfs=$2 mirror=$3 packages=$4 cache_dir=$5

mkdir -p "$cache_dir"
debootstrap --variant=minbase --include="$packages" --cache-dir="$cache_dir" \
    "$suite" "$rootfs" "$mirror"

# Containers need no package caches, no apt lists (they go stale) and no machine id.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
: > "$rootfs"/etc/machine-id
# Name the mirror the image was built from, so apt inside (as root) uses it, not the internet.
echo "deb $mirror $suite main" > "$rootfs"/etc/apt/sources.list
