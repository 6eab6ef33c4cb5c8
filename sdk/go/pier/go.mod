module github.com/pierhq/pier/sdk/go/pier

go 1.26.8
