"""Rules engine and alerts: rules loading, scoring, routing, the notification pipeline,
alert texts, and the database service that ties them to reports and committees."""
