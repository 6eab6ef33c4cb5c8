package assets

import "testing"

func TestManifestFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		m         Manifest
		wantFiles int
		wantBytes int64
	}{
		{name: "empty", m: nil},
		{name: "files", m: Manifest{"/index.html": {Size: 3}, "/a/b.css": {Size: 4}}, wantFiles: 2, wantBytes: 7},
		{
			name: "rules files are not files",
			m: Manifest{
				"/index.html": {Size: 3}, "/_headers": {Size: 10}, "/_redirects": {Size: 20},
				"/docs/_headers": {Size: 5}, // only the root's configure the site
			},
			wantFiles: 2, wantBytes: 8,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.Files(); got != tt.wantFiles {
				t.Errorf("Files() = %d, want %d", got, tt.wantFiles)
			}
			if got := tt.m.Bytes(); got != tt.wantBytes {
				t.Errorf("Bytes() = %d, want %d", got, tt.wantBytes)
			}
		})
	}
}
