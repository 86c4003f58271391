-- =============================================================================
-- The clients routes of the HTTP API: what needs more than one PostgREST call.
--
-- Deleting clients. A client's invoices keep it (invoices -> clients is ON DELETE
-- RESTRICT): financial records are never removed with their client, so a client
-- that has invoices is set to status 'inactive' instead. A client without
-- invoices is deleted with its activity timeline (the audit log keeps the row).
--
-- public.bulk_delete_clients deletes many clients in one transaction, each on
-- its own merits: every eligible id is deleted, every other one is reported with
-- the reason; the call as a whole either commits or (on an error) changes
-- nothing. It is SECURITY INVOKER, so row level security decides what the caller
-- may see and delete: ids of another organization are as absent as ids that do
-- not exist, and are reported 'not_found', never touched.
-- =============================================================================

-- Returns one object per requested id, in the order given:
--   [{"id": uuid, "status": "deleted" | "not_found" | "has_invoices", "message": text}, ...]
-- Refuses (nothing is deleted): a caller below member in the organization
-- (42501), no ids, more than 500, a null or a repeated id (22023).
create or replace function public.bulk_delete_clients(organization_id uuid, client_ids uuid[])
returns jsonb
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  locked uuid[];
  results jsonb;
begin
  if auth.uid() is null then
    raise exception 'a signed-in user is required' using errcode = '42501';
  end if;
  perform private.require_role(bulk_delete_clients.organization_id, 'member',
    'deleting clients needs the member role or above in the organization');
  if client_ids is null or cardinality(client_ids) = 0 then
    raise exception 'give at least one client id' using errcode = '22023';
  end if;
  if cardinality(client_ids) > 500 then
    raise exception 'at most 500 clients can be deleted at once; % were given',
      cardinality(client_ids)
      using errcode = '22023';
  end if;
  if array_position(client_ids, null) is not null then
    raise exception 'client ids cannot be null' using errcode = '22023';
  end if;
  if (select count(distinct x) from unnest(client_ids) x) <> cardinality(client_ids) then
    raise exception 'client ids must be unique' using errcode = '22023';
  end if;

  -- Lock the caller's clients first (in id order, so concurrent bulk deletes
  -- cannot deadlock). A new invoice must lock its client (FOR KEY SHARE), so
  -- once these locks are held no invoice can appear for them, and the check
  -- below (a new snapshot: this is a new statement) sees every committed one.
  select coalesce(array_agg(c.id), '{}') into locked
  from (
    select c.id
    from public.clients c
    where c.organization_id = bulk_delete_clients.organization_id and c.id = any (client_ids)
    order by c.id
    for update
  ) c;

  with deleted as (
    delete from public.clients c
    where c.organization_id = bulk_delete_clients.organization_id
      and c.id = any (locked)
      and not exists (
        select 1 from public.invoices i
        where i.organization_id = bulk_delete_clients.organization_id and i.client_id = c.id
      )
    returning c.id
  )
  select jsonb_agg(
           case
             when d.id is not null then jsonb_build_object(
               'id', r.id, 'status', 'deleted', 'message', 'the client was deleted')
             when r.id = any (locked) then jsonb_build_object(
               'id', r.id, 'status', 'has_invoices',
               'message', 'the client has invoices and is kept with its financial records;'
                          ' set its status to inactive instead')
             else jsonb_build_object(
               'id', r.id, 'status', 'not_found',
               'message', 'no such client in this organization')
           end
           order by r.ord)
  into results
  from unnest(client_ids) with ordinality as r(id, ord)
  left join deleted d on d.id = r.id;

  return results;
end;
$$;

comment on function public.bulk_delete_clients(uuid, uuid[]) is
  'Deletes each of the given clients of an organization that has no invoices; reports the others.';

grant execute on function public.bulk_delete_clients(uuid, uuid[]) to authenticated;

-- Nothing created above is executable by PUBLIC; the grants above say who may.
revoke execute on all functions in schema private, public from public;
