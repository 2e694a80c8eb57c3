-- A create in flight: the process sending a pending job's create holds it under a lease
-- it renews while it waits for the provider's answer. Another process (a rolling
-- deploy's new half) leaves a held pending job alone instead of calling it uncertain
-- under a create that may still be answered, a refusal included; a process that dies
-- holds it no longer than the lease.
ALTER TABLE jobs ADD COLUMN send_owner TEXT;
ALTER TABLE jobs ADD COLUMN send_lease_until REAL;
