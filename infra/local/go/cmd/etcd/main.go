// etcd built from go.etcd.io/etcd/server/v3 at the version the pinned Kubernetes release requires,
// because Debian's etcd (3.4.23) is older than what kube-apiserver expects.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
