package metrics

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnfm-project/vnfm/internal/model"
)

var (
	operations = []model.Operation{model.OpInstantiate, model.OpScale, model.OpScaleToLevel, model.OpChangeFlavour,
		model.OpTerminate, model.OpHeal, model.OpOperate, model.OpChangeExtConn, model.OpModifyInfo}
	states = []model.OperationState{model.Starting, model.Processing, model.Completed, model.FailedTemp,
		model.Failed, model.RollingBack, model.RolledBack}
)

// dbCollector reads op occ counts and the outbox depth at scrape time, so
// they are right whichever replica changed them.
type dbCollector struct {
	db     DB
	log    *slog.Logger
	opOccs *prometheus.Desc
	outbox *prometheus.Desc
	up     *prometheus.Desc
}

func newDBCollector(db DB, log *slog.Logger) *dbCollector {
	return &dbCollector{
		db:  db,
		log: log,
		opOccs: prometheus.NewDesc("vnfm_op_occs",
			"LCM operation occurrences in the database, by operation and state (every known pair, zeros included).",
			[]string{"operation", "state"}, nil),
		outbox: prometheus.NewDesc("vnfm_notification_outbox_depth",
			"Notifications waiting in the outbox for delivery.", nil, nil),
		up: prometheus.NewDesc("vnfm_database_up",
			"1 when the last scrape could read the database, else 0.", nil, nil),
	}
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.opOccs
	ch <- c.outbox
	ch <- c.up
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	up := 1.0
	if counts, err := c.db.CountOpOccs(ctx); err != nil {
		c.log.Warn("metrics: count op occs", "err", err)
		up = 0
	} else {
		// Zeros for every known pair: a state that empties then reads 0
		// rather than vanishing, and alerts need no absent().
		n := make(map[[2]string]int64, len(operations)*len(states))
		for _, op := range operations {
			for _, s := range states {
				n[[2]string{string(op), string(s)}] = 0
			}
		}
		for _, k := range counts {
			n[[2]string{string(k.Operation), string(k.State)}] += k.Count
		}
		for k, v := range n {
			ch <- prometheus.MustNewConstMetric(c.opOccs, prometheus.GaugeValue, float64(v), k[0], k[1])
		}
	}
	if depth, err := c.db.OutboxDepth(ctx); err != nil {
		c.log.Warn("metrics: outbox depth", "err", err)
		up = 0
	} else {
		ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(depth))
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
}

// poolCollector reports pgxpool statistics.
type poolCollector struct {
	pool                                              pgxPool
	acquired, idle, total, max, constructing          *prometheus.Desc
	acquires, acquireSeconds, emptyAcquires, canceled *prometheus.Desc
}

func newPoolCollector(p pgxPool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("vnfm_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{
		pool:           p,
		acquired:       d("acquired_conns", "Postgres connections in use."),
		idle:           d("idle_conns", "Idle Postgres connections in the pool."),
		total:          d("total_conns", "Postgres connections in the pool (acquired, idle and being opened)."),
		max:            d("max_conns", "Largest number of connections the pool opens."),
		constructing:   d("constructing_conns", "Postgres connections being opened."),
		acquires:       d("acquires_total", "Connections taken from the pool."),
		acquireSeconds: d("acquire_duration_seconds_total", "Total time spent waiting for a connection from the pool."),
		emptyAcquires:  d("empty_acquires_total", "Acquires that had to wait: no idle connection was available."),
		canceled:       d("canceled_acquires_total", "Acquires cancelled by their context while waiting."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.constructing, c.acquires, c.acquireSeconds, c.emptyAcquires, c.canceled} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.PoolStat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	k := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.acquired, float64(s.AcquiredConns()))
	g(c.idle, float64(s.IdleConns()))
	g(c.total, float64(s.TotalConns()))
	g(c.max, float64(s.MaxConns()))
	g(c.constructing, float64(s.ConstructingConns()))
	k(c.acquires, float64(s.AcquireCount()))
	k(c.acquireSeconds, s.AcquireDuration().Seconds())
	k(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	k(c.canceled, float64(s.CanceledAcquireCount()))
}
