// The product's realtime design (docs/realtime.md) through supabase-js, the client a
// frontend uses, as it runs in Node 20 (the `ws` package as its WebSocket transport).
// Run by tests/devstack/test_realtime_js.py with one JSON argument naming the stack
// (url, anon and service-role keys) and the people (their access tokens and
// organizations); prints one JSON line per scenario with what it observed, which the
// pytest side judges. Writes go through supabase-js's REST client with the service-role
// key, so the script runs against a real Supabase unchanged.
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'

const config = JSON.parse(process.argv[2])
const { url, anonKey, serviceKey, people } = config

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function until(check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (check()) return true
    await sleep(50)
  }
  return check()
}

const made = []

// A frontend's client for a person: the anon key, the person's access token. The
// client hands the token to Realtime asynchronously: a channel subscribed before that
// joins with the anon key (a private one is then refused, on Supabase too), so a
// frontend awaits realtime.setAuth() first (docs/realtime.md).
async function clientFor(token) {
  const client = createClient(url, anonKey, {
    accessToken: async () => token,
    realtime: { transport: WebSocket, params: { vsn: '2.0.0' } },
  })
  made.push(client)
  await client.realtime.setAuth()
  return client
}

const writer = createClient(url, serviceKey, {
  auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: WebSocket },
})

// Subscribes and answers the status (and the error's message), once the server has
// said "Subscribed to PostgreSQL" when the channel has postgres_changes.
function subscribe(channel, { changes = false } = {}) {
  let ready = !changes
  if (changes) {
    channel.on('system', {}, (message) => {
      if (message.extension === 'postgres_changes') ready = true
    })
  }
  return new Promise((resolve) => {
    channel.subscribe(async (status, error) => {
      if (status === 'SUBSCRIBED') {
        await until(() => ready)
        resolve({ status, ready })
      } else {
        resolve({ status, error: error ? String(error.message ?? error) : null })
      }
    })
  })
}

function check(result) {
  if (result.error) throw new Error(`${result.error.message} (${result.error.code})`)
  return result.data
}

function emit(scenario, observed) {
  process.stdout.write(JSON.stringify({ scenario, ...observed }) + '\n')
}

// --------------------------------------------------------------------------------------
// Two organizations, 1,000 changes of client activities, none crossing.
async function tenants() {
  const got = { a: [], b: [], a_all: [], b_all: [] }
  const statuses = []
  for (const [key, name] of [['a', 'alice'], ['b', 'bob']]) {
    const client = await clientFor(people[name].token)
    const filtered = client.channel(`activities-${key}`).on(
      'postgres_changes',
      { event: '*', schema: 'public', table: 'client_activities', filter: `organization_id=eq.${people[name].org}` },
      (change) => got[key].push(change),
    )
    statuses.push(await subscribe(filtered, { changes: true }))
    const unfiltered = client.channel(`activities-${key}-all`)
    for (const event of ['INSERT', 'UPDATE']) {
      unfiltered.on('postgres_changes', { event, schema: 'public', table: 'client_activities' }, (change) =>
        got[`${key}_all`].push(change),
      )
    }
    statuses.push(await subscribe(unfiltered, { changes: true }))
  }
  const count = (list, type) => list.filter((c) => c.eventType === type).length
  const arrived = (inserts, updates, deletes) =>
    until(
      () =>
        ['a', 'b'].every(
          (k) =>
            count(got[k], 'INSERT') === inserts &&
            count(got[k], 'UPDATE') === updates &&
            count(got[k], 'DELETE') === deletes &&
            count(got[`${k}_all`], 'INSERT') === inserts &&
            count(got[`${k}_all`], 'UPDATE') === updates,
        ),
      120000,
    )
  const ids = { alice: [], bob: [] }
  for (let round = 0; round < 10; round++) {
    for (const name of ['alice', 'bob']) {
      const rows = Array.from({ length: 25 }, (_, i) => ({
        organization_id: people[name].org,
        client_id: people[name].client,
        activity: `js round ${round} #${i}`,
        type: 'other',
      }))
      ids[name].push(...check(await writer.from('client_activities').insert(rows).select('id')).map((r) => r.id))
    }
  }
  const phases = [await arrived(250, 0, 0)]
  for (let round = 0; round < 5; round++) {
    for (const name of ['alice', 'bob']) {
      check(
        await writer
          .from('client_activities')
          .update({ activity: 'js seen' })
          .in('id', ids[name].slice(round * 30, round * 30 + 30)),
      )
    }
  }
  phases.push(await arrived(250, 150, 0))
  for (let round = 0; round < 5; round++) {
    for (const name of ['alice', 'bob']) {
      check(
        await writer
          .from('client_activities')
          .delete()
          .in('id', ids[name].slice(150 + round * 20, 150 + round * 20 + 20)),
      )
    }
  }
  phases.push(await arrived(250, 150, 100))
  await sleep(1000)
  const orgOf = (change) => change.new?.organization_id
  const mine = { a: new Set(ids.alice), b: new Set(ids.bob) }
  const observed = { statuses, phases, counts: {}, crossing: {}, without_organization: {}, deletes_shape: {} }
  for (const [key, org, other] of [['a', people.alice.org, 'b'], ['b', people.bob.org, 'a']]) {
    const received = [...got[key], ...got[`${key}_all`]]
    observed.counts[key] = {
      INSERT: count(got[key], 'INSERT'),
      UPDATE: count(got[key], 'UPDATE'),
      DELETE: count(got[key], 'DELETE'),
      unfiltered: got[`${key}_all`].length,
    }
    observed.crossing[key] = received.filter(
      (c) => (orgOf(c) && orgOf(c) !== org) || mine[other].has(c.old?.id),
    ).length
    observed.without_organization[key] = received.filter((c) => c.eventType !== 'DELETE' && !orgOf(c)).length
    observed.deletes_shape[key] = [...new Set(got[key].filter((c) => c.eventType === 'DELETE').map((c) => Object.keys(c.old).join(',')))]
  }
  emit('tenants', observed)
}

// --------------------------------------------------------------------------------------
// A filter and an event type.
async function filters() {
  const payments = []
  const client = await clientFor(people.alice.token)
  const channel = client
    .channel('js-filters')
    .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'client_activities', filter: 'type=eq.payment' }, (c) =>
      payments.push(c.new.type),
    )
  const status = await subscribe(channel, { changes: true })
  check(
    await writer.from('client_activities').insert(
      ['payment', 'communication', 'other', 'payment'].map((type) => ({
        organization_id: people.alice.org,
        client_id: people.alice.client,
        activity: `js ${type}`,
        type,
      })),
    ),
  )
  await until(() => payments.length >= 2)
  await sleep(500)
  emit('filters', { status, payments })
}

// --------------------------------------------------------------------------------------
// The database's broadcast on a private topic: members and viewers, not strangers.
async function databaseBroadcast() {
  const heard = { alice: [], vera: [] }
  const statuses = {}
  const topic = `org:${people.alice.org}:dashboard`
  for (const name of ['alice', 'vera']) {
    const channel = (await clientFor(people[name].token))
      .channel(topic, { config: { private: true } })
      .on('broadcast', { event: 'dashboard_changed' }, (message) => heard[name].push(message.payload))
    statuses[name] = await subscribe(channel)
  }
  const refused = (await clientFor(people.bob.token)).channel(topic, { config: { private: true } })
  statuses.bob = await subscribe(refused)
  check(
    await writer.from('vendor_invoices').insert({
      organization_id: people.alice.org,
      vendor_name: 'Realtime Supplies',
      invoice_number: `JS-${Date.now()}`,
      invoice_date: new Date().toISOString().slice(0, 10),
      currency: 'USD',
      subtotal: 10,
      total_amount: 10,
    }),
  )
  await until(() => heard.alice.length > 0 && heard.vera.length > 0)
  emit('database_broadcast', { statuses, heard })
}

// --------------------------------------------------------------------------------------
// Client broadcast on the team channel: members send, viewers only listen.
async function teamBroadcast() {
  const heard = { alice: [], mia: [], vera: [] }
  const channels = {}
  const statuses = {}
  const topic = `org:${people.alice.org}:team`
  for (const name of ['alice', 'mia', 'vera']) {
    channels[name] = (await clientFor(people[name].token))
      .channel(topic, { config: { private: true, broadcast: { self: false } } })
      .on('broadcast', { event: 'note' }, (message) => heard[name].push(message.payload))
    statuses[name] = await subscribe(channels[name])
  }
  const sent = {
    mia: await channels.mia.send({ type: 'broadcast', event: 'note', payload: { text: 'from mia' } }),
    vera: await channels.vera.send({ type: 'broadcast', event: 'note', payload: { text: 'from vera' } }),
  }
  await until(() => heard.alice.length > 0 && heard.vera.length > 0)
  await sleep(1000)
  emit('team_broadcast', { statuses, sent, heard })
}

// --------------------------------------------------------------------------------------
// Presence on the team channel: members are seen, a viewer's track is not.
async function presence() {
  const channels = {}
  const statuses = {}
  const topic = `org:${people.alice.org}:team`
  for (const name of ['alice', 'mia', 'vera']) {
    channels[name] = (await clientFor(people[name].token))
      .channel(topic, { config: { private: true, presence: { key: name } } })
      .on('presence', { event: 'sync' }, () => {})
    statuses[name] = await subscribe(channels[name])
  }
  const tracked = {}
  for (const name of ['alice', 'mia', 'vera']) {
    tracked[name] = await channels[name].track({ looking_at: `invoice of ${name}` })
  }
  const keys = (name) => Object.keys(channels[name].presenceState()).sort().join(',')
  await until(() => keys('vera') === 'alice,mia' && keys('alice') === 'alice,mia')
  await sleep(1000)
  const seen = { alice: keys('alice'), vera: keys('vera') }
  const looking = (channels.vera.presenceState().mia ?? []).map((m) => m.looking_at)
  await channels.mia.untrack()
  await until(() => keys('alice') === 'alice')
  emit('presence', { statuses, tracked, seen, looking, after_untrack: keys('alice') })
}

// --------------------------------------------------------------------------------------
// An expired token cannot join a private channel.
async function expiredToken() {
  const channel = (await clientFor(config.expiredToken)).channel(`org:${people.alice.org}:dashboard`, {
    config: { private: true },
  })
  emit('expired_token', { result: await subscribe(channel) })
}

const scenarios = { tenants, filters, databaseBroadcast, teamBroadcast, presence, expiredToken }
try {
  for (const name of config.scenarios ?? Object.keys(scenarios)) {
    await scenarios[name]()
  }
} finally {
  for (const client of made) await client.removeAllChannels()
  await writer.removeAllChannels()
}
process.exit(0)
