"""The RQ worker: `python worker.py` or `alerting worker`.

One process runs jobs from the queues in urgency order (alerting-urgent, alerting-default,
alerting-bulk) with RQ's SimpleWorker (no fork per job: the app, the register snapshot and the
database pool stay warm), plus a sweep thread (see alerting.sending.sweep) and a receipt drain
thread (alerting.sending.receipts), so receipts are applied while this process sends. Run as
many as you like on as many machines as you like, all with the same DATABASE_URL and REDIS_URL.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

import redis
from rq import SimpleWorker

from alerting.sending import shutdown
from alerting.sending.queues import QUEUES, queue, redis_for, set_job_app
from alerting.sending.receipts import start_drainer
from alerting.sending.sweep import start_sweeper

log = logging.getLogger("alerting.worker")
DRAIN_JOIN_S = 5.0  # a drain stops between batches (~0.5 s) or items when asked


class Worker(SimpleWorker):
    """RQ's SimpleWorker, except that SIGTERM also tells the running job to hand back what it
    has not done (alerting.sending.shutdown): RQ alone would let a long drain or send run on,
    and the process would stop a minute later or be killed."""

    def request_stop(self, signum, frame) -> None:
        shutdown.request()
        super().request_stop(signum, frame)


def main(burst: bool = False, name: str | None = None) -> None:
    from alerting import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app()
    set_job_app(app)
    settings = app.extensions["alerting.settings"]
    with app.app_context():  # warm the register so the first plan is fast
        try:
            app.extensions["alerting.register"]._current()
        except Exception:  # an empty or unmigrated database: plans load it later
            log.warning("could not preload the register", exc_info=True)
    gc.freeze()  # long-lived objects out of full collections: fewer pauses between send slots
    stop = threading.Event()
    threads = []
    if not burst:
        start_sweeper(app, stop)
        if settings.receipt_drain_interval_s > 0:
            threads.append(start_drainer(app, stop))
    conn = redis_for(settings.redis_url)
    try:
        while True:
            try:
                worker = Worker([queue(n, conn) for n in QUEUES], connection=conn, name=name)
                worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
                return
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if burst:
                    raise
                log.warning("Redis is unreachable (%s); retrying", exc)
                time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:  # a drain puts back what it took before the process ends
            thread.join(DRAIN_JOIN_S)


if __name__ == "__main__":
    main()
