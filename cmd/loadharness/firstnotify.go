package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/wallet-checkout/checkout/checkout"
	"github.com/wallet-checkout/checkout/gateway"
	"github.com/wallet-checkout/checkout/payments"
)

// firstNotifies is how many paid orders' first notifies each side is sent
// per round (-notifies).
var firstNotifies int

// runFirstNotifies measures a paid order's first notify, the one that
// settles it: the service verifies it, claims the order, asks the gateway
// (paystatus, to the sandbox on its own HTTP server in this process),
// records the payment and queues the webhook. Each round pays a fresh set
// of orders at the sandbox (no notify sent by it) and sends each order's
// notify once to each side. The floor does the least the same answer
// needs: verify the signature, one paystatus, one Redis write.
//
// A first notify can be sent once only, so this kind runs a fixed number
// of requests per side, not a duration.
func runFirstNotifies(w io.Writer, rdb *redis.Client, svc *service, floorURL string, rounds, conns int) error {
	if firstNotifies < 1 {
		return fmt.Errorf("-notifies %d: want at least 1", firstNotifies)
	}
	ctx := context.Background()
	var rows roundRows
	for r := range rounds {
		queries, err := paidOrders(ctx, svc, firstNotifies, conns)
		if err != nil {
			return fmt.Errorf("notify-first: %w", err)
		}
		sides := []string{"floor", "service"}
		if r%2 == 1 {
			sides = []string{"service", "floor"}
		}
		res := map[string]result{}
		for _, side := range sides {
			path := floorURL + "/notify-first?"
			if side == "service" {
				path = svc.url + svc.notifyPath + "?"
			}
			var next atomic.Int64
			mk := func(string) *http.Request {
				i := int(next.Add(1)) - 1
				if i >= len(queries) {
					return nil
				}
				return get(path+queries[i], "")
			}
			stop, err := profileSide("notify-first", side, r)
			if err != nil {
				return err
			}
			out, err := measured(rdb, func() (result, error) { return load("", mk, http.StatusOK, time.Hour, conns) })
			stop()
			if err != nil {
				return fmt.Errorf("notify-first, %s: %w", side, err)
			}
			res[side] = out
		}
		rows.add(res["floor"], res["service"])
	}
	rows.print(w, "notify-first (a paid order's first)")
	return nil
}

// paidOrders creates n checkouts, starts a QR payment on each and pays it
// at the sandbox, and returns each order's signed notify query.
func paidOrders(ctx context.Context, svc *service, n, workers int) ([]string, error) {
	queries := make([]string, n)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				q, err := paidOrder(ctx, svc)
				if err != nil {
					errOnce.Do(func() { first = err })
					return
				}
				queries[i] = q
			}
		})
	}
	wg.Wait()
	return queries, first
}

func paidOrder(ctx context.Context, svc *service) (string, error) {
	id, err := createCheckout(svc.url, svc.apiKey)
	if err != nil {
		return "", err
	}
	act, err := svc.app.Payments.Start(ctx, payments.StartRequest{CheckoutID: id, Wallet: checkout.MethodAlipay, Scenario: checkout.ScenarioQR})
	if err != nil {
		return "", fmt.Errorf("start a payment: %w", err)
	}
	if err := svc.sandbox.PayQRCode(ctx, act.QRCode); err != nil {
		return "", fmt.Errorf("pay at the sandbox: %w", err)
	}
	_, att, err := svc.app.Repo.AttemptByOutNo(ctx, act.OutNo)
	if err != nil {
		return "", fmt.Errorf("attempt %s: %w", act.OutNo, err)
	}
	return gateway.CallbackQuery(svc.store.Key, gateway.Callback{
		OrdNo: att.OrdNo, OutNo: att.OutNo, Status: gateway.StatusPaid, Timestamp: time.Now(), RandStr: strings.Repeat("c3D4", 32),
	}).Encode(), nil
}

// floorFirstNotify is the floor of a first notify: verify, one paystatus,
// one Redis write.
func floorFirstNotify(rdb *redis.Client, prefix string, svc *service) gin.HandlerFunc {
	gw := gateway.NewClient()
	return func(c *gin.Context) {
		cb, err := gateway.VerifyCallback(svc.store.Key, c.Request.URL.Query())
		if err != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		o, err := gw.PayStatus(c.Request.Context(), svc.store, gateway.ByOutNo(cb.OutNo))
		if err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		if err := rdb.HSet(c.Request.Context(), prefix+"floor:paid:"+cb.OutNo, "status", int(o.Status)).Err(); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.String(http.StatusOK, gateway.NotifySuccess)
	}
}
