package format

import (
	"reflect"
	"testing"
)

func TestParseFilters(t *testing.T) {
	allowed := []string{"name", "id", "label", "mode"}
	tests := []struct {
		name    string
		args    []string
		allowed []string
		want    Filters
		wantErr string
	}{
		{name: "none", want: Filters{}},
		{
			name:    "repeated keys collect values",
			args:    []string{"name=web", "mode=global", "name=api", "name=web"},
			allowed: allowed,
			want:    Filters{"name": {"web", "api"}, "mode": {"global"}},
		},
		{
			name:    "value may contain =",
			args:    []string{"label=com.example.tier=web"},
			allowed: allowed,
			want:    Filters{"label": {"com.example.tier=web"}},
		},
		{
			name:    "key is case-insensitive and spaces are trimmed",
			args:    []string{" Name = web "},
			allowed: allowed,
			want:    Filters{"name": {"web"}},
		},
		{
			name:    "empty value",
			args:    []string{"name="},
			allowed: allowed,
			want:    Filters{"name": {""}},
		},
		{
			name: "any key when none are listed",
			args: []string{"whatever=1"},
			want: Filters{"whatever": {"1"}},
		},
		{
			name:    "missing =",
			args:    []string{"name=web", "x"},
			allowed: allowed,
			wantErr: "invalid filter 'x': want key=value",
		},
		{
			name:    "missing key",
			args:    []string{"=web"},
			allowed: allowed,
			wantErr: "invalid filter '=web': want key=value",
		},
		{
			name:    "unknown key",
			args:    []string{"foo=bar"},
			allowed: []string{"c", "a", "b"},
			wantErr: "invalid filter 'foo': unknown key; valid keys are: a, b, c",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFilters(tt.args, tt.allowed...)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFilters: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFiltersMatch(t *testing.T) {
	f := Filters{"name": {"web", "api"}, "id": {"kq3p", "9f"}}
	tests := []struct {
		f                    Filters
		key, value           string
		has, match, prefixed bool
	}{
		{f, "name", "web", true, true, true},
		{f, "name", "api", true, true, true},
		{f, "name", "web-2", true, false, true},
		{f, "name", "we", true, false, false},
		{f, "name", "db", true, false, false},
		{f, "id", "kq3pz8m1x0ab", true, false, true},
		{f, "id", "9f2ka01bcd7e", true, false, true},
		{f, "id", "abc", true, false, false},
		{f, "mode", "global", false, true, true},
		{nil, "name", "anything", false, true, true},
	}
	for _, tt := range tests {
		if got := tt.f.Has(tt.key); got != tt.has {
			t.Errorf("%v.Has(%q) = %v, want %v", tt.f, tt.key, got, tt.has)
		}
		if got := tt.f.Match(tt.key, tt.value); got != tt.match {
			t.Errorf("%v.Match(%q, %q) = %v, want %v", tt.f, tt.key, tt.value, got, tt.match)
		}
		if got := tt.f.MatchPrefix(tt.key, tt.value); got != tt.prefixed {
			t.Errorf("%v.MatchPrefix(%q, %q) = %v, want %v", tt.f, tt.key, tt.value, got, tt.prefixed)
		}
	}
}
