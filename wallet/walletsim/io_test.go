package walletsim

import (
	"io"
	"net/http"
	"strings"
)

func ioCopy(dst *strings.Builder, resp *http.Response) (int64, error) {
	return io.Copy(dst, io.LimitReader(resp.Body, 1<<20))
}
