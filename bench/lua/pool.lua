-- POSTs, each with a value from a pool never used before: refresh tokens and authorization
-- codes are single use, and a reused one revokes what it issued (an error, not a
-- measurement).
-- Arguments: path=, body=<the body, with {value} where each pooled value goes>,
--   pool=<path> (reads <path><thread_id>.txt, one value a line), header= (repeatable)
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = dir .. "?.lua;" .. package.path
local common = require("common")

local requests = {}

function init(args)
  local opts = common.parse(args)
  wrk.method = "POST"
  wrk.path = opts.path
  common.apply_headers(opts)
  -- Built here, not per request: request() then only indexes a table. Split, not
  -- string.format: a body may hold a % of its own.
  local before, after = opts.body:match("^(.*){value}(.*)$")
  assert(before, "body= must contain {value}")
  for value in io.lines(opts.pool .. thread_id .. ".txt") do
    table.insert(requests, wrk.format(nil, nil, nil, before .. value .. after))
  end
  used, exhausted = 0, 0
end

function request()
  if used >= #requests then
    -- Out of values: stop this thread rather than replay one; the driver reports the row
    -- as invalid (its rate would be understated).
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", "/bench-token-pool-exhausted", {}, nil)
  end
  used = used + 1
  return requests[used]
end
