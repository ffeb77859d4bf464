"""Demo data for demo mode: the seed communes (places/), five focal points and a few committees
(people/), all fictitious."""
