package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz says the process is up; it touches nothing else.
func (h *handler) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz says whether Redis answers and the process is not shutting down,
// so a balancer stops sending traffic when it does not, or is.
func (h *handler) readyz(c *gin.Context) {
	if h.draining() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
	defer cancel()
	if err := h.rdb.Ping(ctx).Err(); err != nil {
		h.logger(c).Warn("Redis is not ready", slog.Any("error", err))
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "redis": "unreachable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "redis": "ok"})
}
