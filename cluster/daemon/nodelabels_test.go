package daemon

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"sw/cluster/spec"
)

func manyLabels(n int) map[string]string {
	m := map[string]string{}
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("l%d", i)] = "v"
	}
	return m
}

func TestEditLabels(t *testing.T) {
	tests := []struct {
		name    string
		old     map[string]string
		add     map[string]string
		rm      []string
		want    map[string]string
		wantErr string
	}{
		{name: "add to none", add: map[string]string{"zone": "east"}, want: map[string]string{"zone": "east"}},
		{name: "replace", old: map[string]string{"zone": "east", "disk": "ssd"}, add: map[string]string{"zone": "west"},
			want: map[string]string{"zone": "west", "disk": "ssd"}},
		{name: "remove", old: map[string]string{"zone": "east", "disk": "ssd"}, rm: []string{"zone"},
			want: map[string]string{"disk": "ssd"}},
		{name: "remove then add", old: map[string]string{"zone": "east"}, rm: []string{"zone"}, add: map[string]string{"zone": "north"},
			want: map[string]string{"zone": "north"}},
		{name: "remove a missing one", old: map[string]string{"zone": "east"}, rm: []string{"disk"},
			wantErr: "key disk doesn't exist in node's labels"},
		{name: "empty key", add: map[string]string{"": "x"}, wantErr: "the key is empty"},
		{name: "key too long", add: map[string]string{strings.Repeat("k", spec.MaxLabelKeyLen+1): "x"}, wantErr: "the limit is 256"},
		{name: "value too long", add: map[string]string{"k": strings.Repeat("v", spec.MaxLabelValueLen+1)}, wantErr: "the limit is 4096"},
		{name: "too many", old: manyLabels(spec.MaxLabels), add: map[string]string{"one-more": "x"}, wantErr: "too many node labels: 257"},
		{name: "as many as allowed", old: manyLabels(spec.MaxLabels - 1), add: map[string]string{"last": "x"},
			want: func() map[string]string { m := manyLabels(spec.MaxLabels - 1); m["last"] = "x"; return m }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[string]string{}
			for k, v := range tt.old {
				before[k] = v
			}
			got, err := editLabels(tt.old, tt.add, tt.rm)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("editLabels = %v, %v; want %v", got, err, tt.want)
			}
			if len(tt.old) > 0 && !reflect.DeepEqual(tt.old, before) {
				t.Errorf("the node's own map changed: %v", tt.old)
			}
		})
	}
}
