package assets

// Entry describes one file of a deployment.
type Entry struct {
	Hash        string `json:"hash"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type,omitempty"`
	// Sizes of the pre-compressed variants computed at deploy; zero means
	// the variant does not exist (not text, or compression did not pay).
	BrSize int64 `json:"br_size,omitempty"`
	GzSize int64 `json:"gz_size,omitempty"`
}

// Manifest maps a clean absolute path ("/a/b.html") to its file.
type Manifest map[string]Entry
