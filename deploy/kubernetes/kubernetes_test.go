package kubernetes

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const root = "../.."

// Every kind of object under deploy/kubernetes, and the Go type it must decode into.
func typed(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "monitoring.coreos.com/v1 PodMonitor":
		return &monitoringv1.PodMonitor{}, true
	case "monitoring.coreos.com/v1 PrometheusRule":
		return &monitoringv1.PrometheusRule{}, true
	case "kustomize.config.k8s.io/v1beta1 Kustomization", "kustomize.config.k8s.io/v1alpha1 Component":
		return &kustypes.Kustomization{}, true
	}
	return nil, false
}

// decodeStrict decodes one YAML document into its real Go type; an unknown
// or duplicate field is an error.
func decodeStrict(doc []byte) (any, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return nil, err
	}
	obj, ok := typed(head.APIVersion, head.Kind)
	if !ok {
		return nil, fmt.Errorf("no Go type for %s %s", head.APIVersion, head.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s %s: %w", head.APIVersion, head.Kind, err)
	}
	return obj, nil
}

// decodeFile reads a file of one object and decodes it strictly.
func decodeFile(t *testing.T, path string) ([]byte, any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := decodeStrict(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return data, obj
}

func documents(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(d, "")) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func TestGeneratedFilesAreCurrent(t *testing.T) {
	files, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(root, path))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the generator writes (%v); run `go generate ./deploy/kubernetes` and commit the result", path, err)
		}
	}
}

// TestObjectsDecodeStrictly: every object under deploy/kubernetes, patches
// and kustomizations included, is a valid object of its real Go type.
func TestObjectsDecodeStrictly(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, doc := range documents(data) {
			if _, err := decodeStrict(doc); err != nil {
				t.Errorf("%s: %v", path, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("only %d objects found", n)
	}
	// The decoding is strict: a misspelt field is an error.
	if _, err := decodeStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 3\n")); err == nil {
		t.Error("a Deployment with the unknown field spec.replica decoded")
	}
}

func TestPrometheusRuleIsTheRuleFile(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join(root, RuleFile))
	if err != nil {
		t.Fatal(err)
	}
	data, obj := decodeFile(t, filepath.Join(root, PrometheusRuleFile))
	pr := obj.(*monitoringv1.PrometheusRule)

	// Byte for byte: the spec's text is the rule file's from groups: on.
	spec, err := SpecText(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(rules, spec) || !bytes.HasPrefix(spec, []byte("groups:\n")) {
		t.Errorf("the PrometheusRule's spec is not the text of %s", RuleFile)
	}
	// And as Prometheus reads them: the same groups and rules, every
	// expression's bytes the same.
	var file monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(rules, &file); err != nil {
		t.Fatalf("%s as a PrometheusRule spec: %v", RuleFile, err)
	}
	if !reflect.DeepEqual(file, pr.Spec) {
		t.Errorf("the PrometheusRule's groups differ from %s", RuleFile)
	}
	n := 0
	for _, g := range pr.Spec.Groups {
		n += len(g.Rules)
	}
	if n < 10 {
		t.Errorf("the PrometheusRule has %d rules", n)
	}
}

func TestDashboardConfigMaps(t *testing.T) {
	for src, dst := range Dashboards {
		want, err := os.ReadFile(filepath.Join(root, src))
		if err != nil {
			t.Fatal(err)
		}
		_, obj := decodeFile(t, filepath.Join(root, dst))
		cm := obj.(*corev1.ConfigMap)
		if cm.Labels["grafana_dashboard"] != "1" {
			t.Errorf("%s: labels %v lack grafana_dashboard: \"1\"", dst, cm.Labels)
		}
		if got := cm.Data[filepath.Base(src)]; got != string(want) || len(cm.Data) != 1 {
			t.Errorf("%s does not hold %s unchanged", dst, src)
		}
	}
	// Every dashboard has its ConfigMap.
	jsons, _ := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	if len(jsons) != len(Dashboards) {
		t.Errorf("dashboards/ has %d dashboards, %d ConfigMaps are generated", len(jsons), len(Dashboards))
	}
}

// build runs kustomize on the example overlay, with the given sidecar
// component, in memory, and decodes every object it yields.
func build(t *testing.T, component string) []any {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if path == filepath.Join("example", "kustomization.yaml") {
			data = bytes.Replace(data, []byte("  - ../sidecar\n"), []byte("  - ../"+component+"\n"), 1)
		}
		return mem.WriteFile(filepath.Join("/k", path), data)
	})
	if err != nil {
		t.Fatal(err)
	}
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/k/example")
	if err != nil {
		t.Fatalf("kustomize build example with %s: %v", component, err)
	}
	out, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var objs []any
	for _, doc := range documents(out) {
		obj, err := decodeStrict(doc)
		if err != nil {
			t.Fatalf("kustomize output: %v", err)
		}
		objs = append(objs, obj)
	}
	return objs
}

func TestExampleOverlay(t *testing.T) {
	peakRSS, worstNsPerLine := measured(t)
	for _, component := range []string{"sidecar", "sidecar-classic"} {
		t.Run(component, func(t *testing.T) {
			objs := build(t, component)
			var kinds []string
			var dep *appsv1.Deployment
			var pm *monitoringv1.PodMonitor
			for _, o := range objs {
				kinds = append(kinds, reflect.TypeOf(o).Elem().Name())
				switch o := o.(type) {
				case *appsv1.Deployment:
					dep = o
				case *monitoringv1.PodMonitor:
					pm = o
				}
			}
			slices.Sort(kinds)
			if want := []string{"ConfigMap", "ConfigMap", "Deployment", "PodMonitor", "PrometheusRule"}; !slices.Equal(kinds, want) {
				t.Fatalf("objects %v, want %v", kinds, want)
			}
			pod := dep.Spec.Template.Spec

			gateway := container(pod.Containers, "gateway")
			var jw *corev1.Container
			if component == "sidecar" {
				// Native: an init container that keeps running beside the gateway.
				jw = container(pod.InitContainers, "jwtwatch")
				if jw == nil || jw.RestartPolicy == nil || *jw.RestartPolicy != corev1.ContainerRestartPolicyAlways {
					t.Fatalf("no init container jwtwatch with restartPolicy: Always in %+v", pod.InitContainers)
				}
			} else {
				jw = container(pod.Containers, "jwtwatch")
				if jw == nil || jw.RestartPolicy != nil || len(pod.InitContainers) != 0 {
					t.Fatalf("no plain container jwtwatch beside the gateway")
				}
			}
			if gateway == nil {
				t.Fatal("the gateway container is gone")
			}

			// Both containers share the log volume, read-only for jwtwatch.
			logs := mount(jw, "gateway-logs")
			if logs == nil || !logs.ReadOnly || mount(gateway, "gateway-logs") == nil || mount(gateway, "gateway-logs").ReadOnly {
				t.Errorf("gateway-logs: jwtwatch %+v, gateway %+v; want shared, read-only for jwtwatch", logs, mount(gateway, "gateway-logs"))
			}
			if v := volume(pod, "gateway-logs"); v == nil || v.EmptyDir == nil {
				t.Errorf("the pod has no emptyDir volume gateway-logs")
			}
			state := mount(jw, "jwtwatch-state")
			if state == nil || state.ReadOnly || volume(pod, "jwtwatch-state") == nil {
				t.Error("jwtwatch has no writable state volume")
			}
			if !slices.ContainsFunc(jw.Args, func(a string) bool { return strings.HasPrefix(a, "--log.path="+logs.MountPath+"/") }) ||
				!slices.ContainsFunc(jw.Args, func(a string) bool { return strings.HasPrefix(a, "--state.file="+state.MountPath+"/") }) {
				t.Errorf("args %q do not read the log volume or keep state in the state volume", jw.Args)
			}
			if jw.Image != "registry.example.com/jwtwatch:1.0.0" {
				t.Errorf("image %q, want the overlay's", jw.Image)
			}
			if len(jw.EnvFrom) != 1 || jw.EnvFrom[0].SecretRef == nil || !reflect.DeepEqual(jw.EnvFrom, gateway.EnvFrom) {
				t.Errorf("jwtwatch reads %+v, the gateway %+v: want the gateway's key Secret", jw.EnvFrom, gateway.EnvFrom)
			}

			// Non-root, read-only, nothing to escalate to.
			sc := jw.SecurityContext
			switch {
			case sc == nil:
				t.Fatal("no securityContext")
			case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0:
				t.Error("not forced to run as non-root")
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Error("root file system writable")
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Error("privilege escalation allowed")
			case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
				t.Error("capabilities not all dropped")
			case sc.Privileged != nil && *sc.Privileged:
				t.Error("privileged")
			}

			// Probes on the metrics port; no readiness probe, which would take
			// the gateway out of service whenever jwtwatch is not ready.
			port := jw.Ports[0]
			for name, p := range map[string]*corev1.Probe{"startup": jw.StartupProbe, "liveness": jw.LivenessProbe} {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/-/healthy" || p.HTTPGet.Port.String() != port.Name {
					t.Errorf("%s probe %+v, want GET /-/healthy on port %s", name, p, port.Name)
				}
			}
			if jw.ReadinessProbe != nil {
				t.Error("a readiness probe on the sidecar gates the gateway's traffic")
			}
			if port.ContainerPort != 9824 || port.Name != "jwtwatch" {
				t.Errorf("port %+v, want jwtwatch 9824", port)
			}

			// Resources from the measured figures (docs/benchmarks.md).
			res := jw.Resources
			memReq, memLim := res.Requests[corev1.ResourceMemory], res.Limits[corev1.ResourceMemory]
			cpuReq, cpuLim := res.Requests[corev1.ResourceCPU], res.Limits[corev1.ResourceCPU]
			if memReq.Value() < peakRSS {
				t.Errorf("memory request %s is below the measured peak RSS %d MiB", &memReq, peakRSS>>20)
			}
			if memLim.Value() < 2*peakRSS {
				t.Errorf("memory limit %s leaves no room above twice the measured peak RSS %d MiB", &memLim, peakRSS>>20)
			}
			if cpuLim.Cmp(resource.MustParse("1")) != 0 {
				t.Errorf("CPU limit %s: one core is what jwtwatch uses (a second does not help)", &cpuLim)
			}
			// The request covers 1,000 lines/s at the slowest measured cost per line.
			if need := 1000 * worstNsPerLine / 1e6; cpuReq.MilliValue() < int64(need) {
				t.Errorf("CPU request %s is below %.0fm, 1,000 lines/s at %.0f ns per line", &cpuReq, need, worstNsPerLine)
			}

			// The PodMonitor finds the pods and the port.
			labels := dep.Spec.Template.Labels
			for k, v := range pm.Spec.Selector.MatchLabels {
				if labels[k] != v {
					t.Errorf("the PodMonitor selects %s=%s, the pods carry %v", k, v, labels)
				}
			}
			if len(pm.Spec.PodMetricsEndpoints) != 1 || pm.Spec.PodMetricsEndpoints[0].Port == nil || *pm.Spec.PodMetricsEndpoints[0].Port != port.Name || pm.Spec.PodMetricsEndpoints[0].Path != "/metrics" {
				t.Errorf("PodMonitor endpoints %+v, want /metrics on port %s", pm.Spec.PodMetricsEndpoints, port.Name)
			}
		})
	}
}

// measured reads docs/benchmarks.md's throughput table: the largest peak RSS
// (bytes) and the slowest ns per line.
func measured(t *testing.T) (peakRSS int64, worstNsPerLine float64) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "docs", "benchmarks.md"))
	if err != nil {
		t.Fatal(err)
	}
	rssCol, nsCol := -1, -1
	number := func(s string) (float64, bool) {
		f, err := strconv.ParseFloat(strings.ReplaceAll(strings.Fields(s + " x")[0], ",", ""), 64)
		return f, err == nil
	}
	for line := range strings.Lines(string(data)) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if rssCol < 0 {
			for i, c := range cells {
				switch strings.TrimSpace(c) {
				case "peak RSS":
					rssCol = i
				case "ns/line":
					nsCol = i
				}
			}
			if nsCol < 0 {
				rssCol = -1
			}
			continue
		}
		if !strings.HasPrefix(strings.TrimSpace(line), "|") {
			break // the end of the table
		}
		if rss, ok := number(cells[rssCol]); ok && strings.Contains(cells[rssCol], "MiB") {
			peakRSS = max(peakRSS, int64(rss*(1<<20)))
		}
		if ns, ok := number(cells[nsCol]); ok {
			worstNsPerLine = max(worstNsPerLine, ns)
		}
	}
	if peakRSS == 0 || worstNsPerLine == 0 {
		t.Fatal("docs/benchmarks.md has no throughput table with ns/line and peak RSS")
	}
	t.Logf("docs/benchmarks.md: peak RSS up to %.1f MiB, up to %.0f ns per line", float64(peakRSS)/(1<<20), worstNsPerLine)
	return peakRSS, worstNsPerLine
}

func container(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func mount(c *corev1.Container, name string) *corev1.VolumeMount {
	if c == nil {
		return nil
	}
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func volume(pod corev1.PodSpec, name string) *corev1.Volume {
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}
