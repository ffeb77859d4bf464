"""The alert service in the running gateway: started by the application's last cleanup context.

- rules_reload: the rules in force, reloaded when a file changes or on SIGHUP;
- scorer: the loop that scores the reports ingest stored;
- jobs: the timed jobs as a table, and how one runs (one replica at a time, counted by outcome);
- start: Alerting, which starts the scorer and the scheduler, and stops them letting a pass finish."""
