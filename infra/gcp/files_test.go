package gcp

// This file checks the files deploy.sh deploys from: the actuator's custom roles, the
// Dockerfile, and the README's map of the AWS template onto Google Cloud.

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// roleFiles maps each of the actuator's custom roles to its definition.
var roleFiles = map[string]string{
	"cloudtrimActuator":         "actuator-role.json",
	"cloudtrimActuatorRead":     "actuator-read-role.json",
	"cloudtrimCollectorStorage": "collector-storage-role.json",
	"cloudtrimActuatorSnapshot": "actuator-snapshot-role.json",
}

// rolePermissions is exactly what each role may hold; the README says what each is for.
var rolePermissions = map[string][]string{
	// Granted only with --apply, under the condition on the opt-in tag.
	"cloudtrimActuator": {
		"compute.addresses.delete",         // release a regional address
		"compute.disks.createSnapshot",     // snapshot a disk before deleting it
		"compute.disks.delete",             // delete an unattached disk
		"compute.globalAddresses.delete",   // release a global address
		"compute.instances.setLabels",      // the schedule label on an instance
		"compute.instances.setMachineType", // rightsize a stopped instance
		"compute.instances.start",          // the end of a resize, and undo
		"compute.instances.stop",           // stop, schedule, the start of a resize
		"compute.snapshots.delete",         // delete an old snapshot
		"storage.buckets.update",           // cloudtrim's lifecycle rule and its label on a bucket
	},
	// Granted always, unconditioned: re-reads, machine types and operations.
	"cloudtrimActuatorRead": {
		"compute.addresses.get",
		"compute.disks.get",
		"compute.globalAddresses.get",
		"compute.globalOperations.get",
		"compute.instances.get",
		"compute.machineTypes.get", // the size a resize asks for exists in the zone
		"compute.regionOperations.get",
		"compute.snapshots.get",
		"compute.zoneOperations.get",
		"storage.buckets.list", // re-read a bucket: a listing of its project by its name
	},
	// Granted to the collector in each project it reads: bucket metadata,
	// in the noAcl projection (the full one needs storage.buckets.getIamPolicy).
	"cloudtrimCollectorStorage": {
		"storage.buckets.list",
	},
	// Granted only with --apply, unconditioned: a new snapshot carries no tag.
	"cloudtrimActuatorSnapshot": {
		"compute.snapshots.create",
		"compute.snapshots.setLabels",
	},
}

// forbidden are permissions no actuator role may hold: with them it could change who may do
// what, opt a resource in by tagging it, or create and delete instances.
var forbidden = []*regexp.Regexp{
	regexp.MustCompile(`\.setIamPolicy$`),
	regexp.MustCompile(`^resourcemanager\.tag`),
	regexp.MustCompile(`TagBinding`),
	regexp.MustCompile(`^compute\.instances\.(create|insert|delete)$`),
	regexp.MustCompile(`^iam\.`),
	regexp.MustCompile(`\*`),
}

// role is a custom role definition file, as gcloud iam roles create --file reads it.
type role struct {
	Title               string   `json:"title"`
	Description         string   `json:"description"`
	Stage               string   `json:"stage"`
	IncludedPermissions []string `json:"includedPermissions"`
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestActuatorRolesHoldExactlyTheirPermissions(t *testing.T) {
	files, err := filepath.Glob("*role*.json")
	if err != nil {
		t.Fatal(err)
	}
	var known []string
	for _, f := range roleFiles {
		known = append(known, f)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(known)), files); diff != "" {
		t.Errorf("role files on disk (-tested +present):\n%s", diff)
	}
	for id, file := range roleFiles {
		t.Run(id, func(t *testing.T) {
			dec := json.NewDecoder(strings.NewReader(readFile(t, file)))
			dec.DisallowUnknownFields()
			var r role
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if r.Title == "" || r.Description == "" || r.Stage != "GA" {
				t.Errorf("%s: title %q, description %q, stage %q; want a title, a description and stage GA", file, r.Title, r.Description, r.Stage)
			}
			if diff := cmp.Diff(rolePermissions[id], r.IncludedPermissions); diff != "" {
				t.Errorf("%s permissions (-want +got):\n%s", file, diff)
			}
			for _, p := range r.IncludedPermissions {
				for _, re := range forbidden {
					if re.MatchString(p) {
						t.Errorf("%s holds %s, which no actuator role may hold (%s)", file, p, re)
					}
				}
			}
		})
	}
}

func TestDockerfile(t *testing.T) {
	var got []string
	s := bufio.NewScanner(strings.NewReader(readFile(t, "Dockerfile")))
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); line != "" && !strings.HasPrefix(line, "#") {
			got = append(got, line)
		}
	}
	want := []string{
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"COPY cloudtrim-gcp /cloudtrim-gcp",
		"USER nonroot",
		`ENTRYPOINT ["/cloudtrim-gcp"]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Dockerfile instructions (-want +got):\n%s", diff)
	}
}

// TestReadmeMapsEveryAWSResource keeps the README's table of AWS resources and their Google
// Cloud counterparts complete as template.yaml grows.
func TestReadmeMapsEveryAWSResource(t *testing.T) {
	readme := readFile(t, "README.md")
	s := bufio.NewScanner(strings.NewReader(readFile(t, filepath.Join("..", "..", "template.yaml"))))
	resource := regexp.MustCompile(`^  ([A-Za-z][A-Za-z0-9]*):\s*$`)
	in, n := false, 0
	for s.Scan() {
		line := s.Text()
		switch {
		case line == "Resources:":
			in = true
		case in && line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#"):
			in = false
		case in:
			if m := resource.FindStringSubmatch(line); m != nil {
				n++
				if !strings.Contains(readme, "| `"+m[1]+"`") {
					t.Errorf("README.md maps no Google Cloud counterpart to template.yaml's %s (want a table row starting | `%s`)", m[1], m[1])
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("template.yaml: no resources found under Resources:")
	}
}
