package containerd

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/nodes/runtime"
)

func TestConflist(t *testing.T) {
	for _, withPorts := range []bool{false, true} {
		b := conflist("br0", netip.MustParsePrefix("10.88.0.0/16"), "/state/cni/ipam", withPorts)
		var got struct {
			CNIVersion, Name string
			Plugins          []map[string]any
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		types := []string{}
		for _, p := range got.Plugins {
			types = append(types, p["type"].(string))
		}
		want := []string{"bridge"}
		if withPorts {
			want = append(want, "portmap")
		}
		if got.CNIVersion != "1.0.0" || got.Name != networkName || !cmp.Equal(types, want) {
			t.Errorf("withPorts=%v: %s", withPorts, b)
		}
		br := got.Plugins[0]
		ipam := br["ipam"].(map[string]any)
		if br["bridge"] != "br0" || br["isGateway"] != true || ipam["type"] != "host-local" || ipam["dataDir"] != "/state/cni/ipam" {
			t.Errorf("bridge plugin: %v", br)
		}
	}
}

func TestSplitRule(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"plain", "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n",
			[]string{"-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"}},
		{"quoted comment", `-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ`,
			[]string{"-A", "POSTROUTING", "-m", "comment", "--comment", "CNI portfwd requiring masquerade", "-j", "CNI-HOSTPORT-MASQ"}},
		{"empty", "", nil},
		{"empty quotes", `-m comment --comment ""`, []string{"-m", "comment", "--comment", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, splitRule(tc.in)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestPortOpts(t *testing.T) {
	ports := []runtime.PortMapping{
		{Protocol: "TCP", ContainerPort: 8080},
		{Protocol: "UDP", ContainerPort: 53, HostPort: 5353, HostIP: "127.0.0.1"},
	}
	if got := hostPorts(ports); len(got) != 1 || got[0].HostPort != 5353 {
		t.Errorf("hostPorts: %+v", got)
	}
	if got := portOpts(ports[:1]); got != nil {
		t.Errorf("portOpts of a pod without host ports: %d options, want none", len(got))
	}
	if got := portOpts(ports); len(got) != 1 {
		t.Errorf("portOpts: %d options, want the portMappings capability", len(got))
	}
}
