-- Shared by every bench script. wrk runs setup() and done() in its main Lua state and
-- init()/request()/response() in one state per thread; the thread objects collected in
-- setup() are how done() reads the per-thread counters.
local common = {}
local threads = {}

function setup(thread)
  -- Numbered before the thread's init() runs, so each thread can open its own token file.
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

-- wrk hands the words after "--" to init(); ours are key=value, "header" may repeat.
function common.parse(args)
  local opts = { header = {} }
  for _, arg in ipairs(args) do
    local key, value = arg:match("^([%w_]+)=(.*)$")
    assert(key, "bench argument is not key=value: " .. arg)
    if key == "header" then
      table.insert(opts.header, value)
    else
      opts[key] = value
    end
  end
  return opts
end

function common.apply_headers(opts)
  for _, line in ipairs(opts.header) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
end

local function thread_sum(name)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get(name) or 0)
  end
  return total
end

-- One line the Python driver looks for among wrk's own report. Latency is in microseconds.
-- errors.status counts answers > 399 (wrk's rule); where a script looks at every answer,
-- unexpected counts those that were not what it expected (a 2xx, or a redirect with a code).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},'
      .. '"threads":{"used":%d,"exhausted":%d,"harvested":%d,"unexpected":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9),
    thread_sum("used"), thread_sum("exhausted"), thread_sum("harvested"), thread_sum("unexpected")))
end

return common
