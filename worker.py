"""Start one RQ worker for alerting (`python worker.py`); see alerting/worker.py."""

from alerting.worker import main

if __name__ == "__main__":
    main()
