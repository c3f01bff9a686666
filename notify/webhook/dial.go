package webhook

import (
	"net/http"
)

func (s *Service) newHTTPClient() *http.Client { return &http.Client{Timeout: s.timeout} }
