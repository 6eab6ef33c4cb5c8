package assets

import "strings"

// DefaultContentType is served for files whose extension is unknown.
const DefaultContentType = "application/octet-stream"

// contentTypes maps a lowercase extension (without the dot) to its media
// type. It is built in, not read from the host's mime.types, so every node
// of a fleet answers the same Content-Type for the same file.
var contentTypes = map[string]string{
	// text and documents
	"html":        "text/html; charset=utf-8",
	"htm":         "text/html; charset=utf-8",
	"shtml":       "text/html; charset=utf-8",
	"xhtml":       "application/xhtml+xml; charset=utf-8",
	"css":         "text/css; charset=utf-8",
	"js":          "text/javascript; charset=utf-8",
	"mjs":         "text/javascript; charset=utf-8",
	"cjs":         "text/javascript; charset=utf-8",
	"jsx":         "text/javascript; charset=utf-8",
	"ts":          "text/javascript; charset=utf-8", // served as JS by bundler dev setups; never "video/mp2t" for a website
	"json":        "application/json; charset=utf-8",
	"jsonld":      "application/ld+json; charset=utf-8",
	"map":         "application/json; charset=utf-8",
	"webmanifest": "application/manifest+json; charset=utf-8",
	"txt":         "text/plain; charset=utf-8",
	"text":        "text/plain; charset=utf-8",
	"md":          "text/markdown; charset=utf-8",
	"markdown":    "text/markdown; charset=utf-8",
	"csv":         "text/csv; charset=utf-8",
	"tsv":         "text/tab-separated-values; charset=utf-8",
	"xml":         "application/xml; charset=utf-8",
	"xsl":         "application/xml; charset=utf-8",
	"rss":         "application/rss+xml; charset=utf-8",
	"atom":        "application/atom+xml; charset=utf-8",
	"svg":         "image/svg+xml; charset=utf-8",
	"ics":         "text/calendar; charset=utf-8",
	"vtt":         "text/vtt; charset=utf-8",
	"yaml":        "application/yaml; charset=utf-8",
	"yml":         "application/yaml; charset=utf-8",
	"toml":        "application/toml; charset=utf-8",
	"wasm":        "application/wasm",
	"pdf":         "application/pdf",
	"rtf":         "application/rtf",
	"epub":        "application/epub+zip",

	// images
	"png":  "image/png",
	"apng": "image/apng",
	"jpg":  "image/jpeg",
	"jpeg": "image/jpeg",
	"jfif": "image/jpeg",
	"gif":  "image/gif",
	"webp": "image/webp",
	"avif": "image/avif",
	"heic": "image/heic",
	"jxl":  "image/jxl",
	"ico":  "image/x-icon",
	"cur":  "image/x-icon",
	"bmp":  "image/bmp",
	"tif":  "image/tiff",
	"tiff": "image/tiff",

	// fonts
	"woff":  "font/woff",
	"woff2": "font/woff2",
	"ttf":   "font/ttf",
	"otf":   "font/otf",
	"eot":   "application/vnd.ms-fontobject",

	// audio and video
	"mp4":  "video/mp4",
	"m4v":  "video/mp4",
	"webm": "video/webm",
	"ogv":  "video/ogg",
	"mov":  "video/quicktime",
	"mp3":  "audio/mpeg",
	"m4a":  "audio/mp4",
	"aac":  "audio/aac",
	"ogg":  "audio/ogg",
	"oga":  "audio/ogg",
	"opus": "audio/ogg",
	"wav":  "audio/wav",
	"flac": "audio/flac",
	"m3u8": "application/vnd.apple.mpegurl",

	// archives and binaries
	"zip": "application/zip",
	"gz":  "application/gzip",
	"tgz": "application/gzip",
	"br":  "application/x-brotli",
	"zst": "application/zstd",
	"tar": "application/x-tar",
	"7z":  "application/x-7z-compressed",
	"bin": "application/octet-stream",
	"exe": "application/octet-stream",
	"dmg": "application/octet-stream",
	"apk": "application/vnd.android.package-archive",
}

// ContentType returns the media type of the file at path by its extension
// (case-insensitive), with "; charset=utf-8" on text types, or
// DefaultContentType when the extension is unknown.
func ContentType(path string) string {
	i := strings.LastIndexByte(path, '.')
	if i < 0 || strings.IndexByte(path[i:], '/') >= 0 {
		return DefaultContentType
	}
	ext := path[i+1:]
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct, ok := contentTypes[strings.ToLower(ext)]; ok {
		return ct
	}
	return DefaultContentType
}

// Compressible reports whether content of this media type shrinks under
// brotli or gzip: text, JSON, JavaScript, XML, SVG, WebAssembly, web
// manifests and a few uncompressed binary formats. Images other than SVG
// and BMP, WOFF/WOFF2 fonts, audio, video and archives are already
// compressed and are not.
func Compressible(contentType string) bool {
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.ToLower(strings.TrimSpace(mt))
	if strings.HasPrefix(mt, "text/") {
		return true
	}
	if strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml") {
		return true // manifest+json, ld+json, svg+xml, rss+xml, atom+xml, xhtml+xml
	}
	switch mt {
	case "application/json", "application/javascript", "application/x-javascript",
		"application/ecmascript", "application/xml", "application/wasm",
		"application/yaml", "application/toml", "application/rtf",
		"application/vnd.ms-fontobject", "application/vnd.apple.mpegurl",
		"font/ttf", "font/otf", "image/x-icon", "image/bmp", "image/tiff":
		return true
	}
	return false
}
