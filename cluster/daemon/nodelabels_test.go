package daemon

import (
	"reflect"
	"strings"
	"testing"
)

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
