#!/usr/bin/env bash
# Installs or builds what the local control plane and the real Pulumi CLI need, into a per-user cache outside
# the repository keyed by version, and prints where each piece is. Skips what is already there.
# Usage: toolchain.sh [all|kube|etcd|pulumi|aws|paths]   (default: all; kube: etcd and the control plane;
#        aws: a Python virtualenv with botocore and moto's server, the independent AWS peers of the metric tests)
# Pinned versions live here; a change of version builds into a new directory.
set -euo pipefail

KUBE_VERSION=1.34.4
PULUMI_VERSION=3.274.1
PULUMI_K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
PULUMI_K8S_VERSION=4.34.2
BOTOCORE_VERSION=1.44.8
MOTO_VERSION=5.2.5

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${APPMESH_CANARY_TOOLCHAIN:-${XDG_CACHE_HOME:-$HOME/.cache}/appmesh-canary/toolchain}
kube_dir=$cache/kube-$KUBE_VERSION
pulumi_dir=$cache/pulumi-$PULUMI_VERSION
k8s_plugin_dir=$cache/pulumi-kubernetes-$PULUMI_K8S_VERSION
shim_dir=$cache/pulumi-nodejs-shim
aws_venv=$cache/aws-python-botocore-$BOTOCORE_VERSION-moto-$MOTO_VERSION

say() { printf '[toolchain] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
need_go() { command -v go >/dev/null || die "Go (>= 1.24) is needed to build $1; install it from your package manager or go.dev"; }
timed() {
    local what=$1; shift
    local start=$SECONDS
    say "building $what (on 2 cores this takes $ESTIMATE)..."
    "$@"
    say "built $what in $((SECONDS - start)) s"
}

build_kube() {
    [ -x "$kube_dir/kube-apiserver" ] && [ -x "$kube_dir/kube-controller-manager" ] && return 0
    need_go "kube-apiserver"
    local work; work=$(mktemp -d)
    mkdir -p "$kube_dir"
    {
        echo "module local/kubebuild"
        echo "go 1.24"
        echo "require k8s.io/kubernetes v$KUBE_VERSION"
        for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider \
            cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api \
            cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms \
            kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
            mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller; do
            echo "replace k8s.io/$m => k8s.io/$m v0.${KUBE_VERSION#1.}"
        done
    } >"$work/go.mod"
    cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
    local minor=${KUBE_VERSION#1.}; minor=${minor%%.*}
    local ld="-s -w -X k8s.io/component-base/version.gitVersion=v$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    (cd "$work" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true)
    (cd "$work" && GOFLAGS=-mod=mod go mod download k8s.io/kubernetes)
    ESTIMATE="about 6 minutes" timed "kube-apiserver v$KUBE_VERSION" \
        bash -c "cd '$work' && go build -tags tools -ldflags '$ld' -o '$kube_dir/kube-apiserver.tmp' k8s.io/kubernetes/cmd/kube-apiserver && mv '$kube_dir/kube-apiserver.tmp' '$kube_dir/kube-apiserver'"
    ESTIMATE="about 2 minutes" timed "kube-controller-manager v$KUBE_VERSION" \
        bash -c "cd '$work' && go build -tags tools -ldflags '$ld' -o '$kube_dir/kube-controller-manager.tmp' k8s.io/kubernetes/cmd/kube-controller-manager && mv '$kube_dir/kube-controller-manager.tmp' '$kube_dir/kube-controller-manager'"
    rm -rf "$work"
}

install_etcd() {
    command -v etcd >/dev/null && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing etcd (Debian etcd-server)..."
        DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server >/dev/null \
            || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server >/dev/null; }
        # The package may start a system etcd on the default ports; the playground runs its own.
        (systemctl disable --now etcd >/dev/null 2>&1 || true)
    else
        die "etcd is missing: install it (Debian/Ubuntu: sudo apt-get install etcd-server; macOS: brew install etcd)"
    fi
}

pulumi_on_path() {
    command -v pulumi >/dev/null || return 1
    local v; v=$(pulumi version 2>/dev/null | sed 's/^v//')
    [ -n "$v" ] || return 1
    # >= 3.146: the first CLI that shows a dynamic provider's output lines as diagnostics
    [ "$(printf '%s\n3.146.0\n' "$v" | sort -V | head -n 1)" = "3.146.0" ]
}

build_pulumi() {
    if pulumi_on_path; then return 0; fi
    local builder=$root/../shared/tools/build-pulumi-language-nodejs.sh
    # Without the language host the CLI cannot run a Node.js program: say so before a 12-minute build.
    [ -x "$pulumi_dir/pulumi-language-nodejs" ] || [ -f "$builder" ] \
        || die "no Pulumi CLI on PATH, and its Node.js language host is not on the Go module proxy: install the Pulumi CLI with its installer (https://www.pulumi.com/docs/install/; it ships the language host) and run this again"
    if [ ! -x "$pulumi_dir/pulumi" ]; then
        need_go "the Pulumi CLI"
        local work; work=$(mktemp -d)
        mkdir -p "$pulumi_dir"
        cat >"$work/go.mod" <<GO
module local/pulumibuild

go 1.24
GO
        cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GO
        (cd "$work" && GOFLAGS=-mod=mod go get "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" >/dev/null 2>&1 \
            && GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1)
        local ld="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
        ESTIMATE="about 12 minutes" timed "the Pulumi CLI v$PULUMI_VERSION" \
            bash -c "cd '$work' && go build -ldflags '$ld' -o '$pulumi_dir/pulumi.tmp' github.com/pulumi/pulumi/pkg/v3/cmd/pulumi && mv '$pulumi_dir/pulumi.tmp' '$pulumi_dir/pulumi'"
        rm -rf "$work"
    fi
    if [ ! -x "$pulumi_dir/pulumi-language-nodejs" ]; then
        ESTIMATE="about 1 minute" timed "the Pulumi Node.js language host" bash "$builder" "$pulumi_dir"
    fi
}

install_nodejs_shim() {
    # The CLI's release archive ships pulumi-resource-pulumi-nodejs, the dynamic-provider plugin; a build from
    # source has none. It only starts @pulumi/pulumi's dynamic-provider host of the program being run.
    [ -x "$shim_dir/pulumi-resource-pulumi-nodejs" ] && return 0
    mkdir -p "$shim_dir"
    cat >"$shim_dir/pulumi-resource-pulumi-nodejs" <<'SH'
#!/bin/sh
exec node "$(node -p "require.resolve('@pulumi/pulumi/cmd/dynamic-provider')")" "$@"
SH
    chmod +x "$shim_dir/pulumi-resource-pulumi-nodejs"
}

build_k8s_plugin() {
    [ -x "$k8s_plugin_dir/pulumi-resource-kubernetes" ] && return 0
    need_go "the Pulumi Kubernetes provider plugin"
    local work; work=$(mktemp -d)
    mkdir -p "$k8s_plugin_dir"
    local mod=github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_K8S_PROVIDER_MODULE_VERSION
    local src; src=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$mod" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    [ -n "$src" ] || die "could not download $mod"
    cp -r "$src" "$work/provider" && chmod -R u+w "$work/provider"
    # The generated embed files are missing from the module: they are the minified JSON beside them.
    local cmd=$work/provider/cmd/pulumi-resource-kubernetes
    node -e 'const fs=require("fs");for(const [a,b] of [["schema.json","schema-embed.json"],["terraform-mapping.json","terraform-mapping-embed.json"]]){fs.writeFileSync(process.argv[1]+"/"+b,JSON.stringify(JSON.parse(fs.readFileSync(process.argv[1]+"/"+a,"utf8"))))}' "$cmd"
    sed -i '/^replace github.com\/pulumi\/pulumi-kubernetes\/sdk\/v4 => /d' "$work/provider/go.mod"
    local ld="-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_K8S_VERSION"
    (cd "$work/provider" && GOFLAGS=-mod=mod go mod download >/dev/null 2>&1 || true)
    ESTIMATE="about 12 minutes" timed "the Pulumi Kubernetes provider plugin v$PULUMI_K8S_VERSION" \
        bash -c "cd '$work/provider' && GOFLAGS=-mod=mod go build -ldflags '$ld' -o '$k8s_plugin_dir/pulumi-resource-kubernetes.tmp' ./cmd/pulumi-resource-kubernetes && mv '$k8s_plugin_dir/pulumi-resource-kubernetes.tmp' '$k8s_plugin_dir/pulumi-resource-kubernetes'"
    rm -rf "$work"
}

install_aws_python() {
    [ -f "$aws_venv/.installed" ] && return 0
    command -v python3 >/dev/null || die "python3 (>= 3.9) is needed for the AWS metric tests' botocore and moto"
    say "installing botocore $BOTOCORE_VERSION and moto[server] $MOTO_VERSION into $aws_venv"
    # A venv's scripts name its directory, so it is built in place; the stamp marks it complete.
    rm -rf "$aws_venv"
    python3 -m venv "$aws_venv"
    "$aws_venv/bin/pip" install --quiet --disable-pip-version-check "botocore==$BOTOCORE_VERSION" "moto[server]==$MOTO_VERSION"
    touch "$aws_venv/.installed"
}

print_paths() {
    echo "KUBE_BIN_DIR=$kube_dir"
    echo "ETCD=$(command -v etcd || echo missing)"
    if pulumi_on_path; then echo "PULUMI=$(command -v pulumi)"; else echo "PULUMI=$pulumi_dir/pulumi"; fi
    echo "PULUMI_PLUGIN_PATH=$pulumi_dir:$shim_dir:$k8s_plugin_dir"
    echo "AWS_PYTHON=$aws_venv/bin/python"
}

case "${1:-all}" in
    kube) install_etcd; build_kube ;;
    etcd) install_etcd ;;
    pulumi) build_pulumi; install_nodejs_shim; build_k8s_plugin ;;
    aws) install_aws_python ;;
    paths) ;;
    all) install_etcd; build_kube; build_pulumi; install_nodejs_shim; build_k8s_plugin; install_aws_python ;;
    *) die "unknown part '$1' (allowed: all, kube, etcd, pulumi, aws, paths)" ;;
esac
print_paths
