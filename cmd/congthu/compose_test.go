package main

import (
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"congthu/config"
)

// docker-compose.yml must be valid and use only settings congthu knows.
func TestDockerCompose(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatal("docker-compose not installed (scripts/test.sh installs Debian's package)")
	}
	out, err := exec.Command(bin, "-f", "../../docker-compose.yml", "config", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config -q: %v\n%s", err, out)
	}
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"CONGTHU_CONFIG": true}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type)
			}
			if e := f.Tag.Get("env"); e != "" {
				known[e] = true
			}
		}
	}
	walk(reflect.TypeOf(config.Config{}))
	used := regexp.MustCompile(`(?m)^\s+#?\s*(CONGTHU_[A-Z_]+):`).FindAllStringSubmatch(string(b), -1)
	if len(used) < 5 {
		t.Fatalf("found only %d CONGTHU_ settings in docker-compose.yml", len(used))
	}
	for _, m := range used {
		if !known[m[1]] {
			t.Errorf("docker-compose.yml sets %s, which congthu does not read", m[1])
		}
	}
	if !strings.Contains(string(b), "build: .") {
		t.Error("the congthu service is not built from the repository's Dockerfile")
	}
	if _, err := os.Stat("../../Dockerfile"); err != nil {
		t.Error(err)
	}
}
