-- The order sweeper's view of the database (written by hand, not generated).
-- The sweeper settles orders left pending (a process died between the reservation and the
-- settlement, or the payment provider was down). Finding them means looking across tenants,
-- which app_user never can. app_sweeper sees exactly that and nothing more: the id, tenant
-- and age of pending orders, read-only. Each order is then settled in its own tenant's
-- transaction as app_user, like a request.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_sweeper') THEN
    CREATE ROLE app_sweeper NOLOGIN;
  END IF;
END
$$;
--> statement-breakpoint
-- The login role must be able to SET ROLE app_sweeper (a superuser always can).
DO $$
BEGIN
  IF NOT pg_has_role(current_user, 'app_sweeper', 'MEMBER') THEN
    EXECUTE format('GRANT app_sweeper TO %I', current_user);
  END IF;
END
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO app_sweeper;
--> statement-breakpoint
GRANT SELECT (id, tenant_id, status, created_at) ON orders TO app_sweeper;
--> statement-breakpoint
CREATE POLICY pending_orders_sweep ON orders FOR SELECT TO app_sweeper USING (status = 'pending');
