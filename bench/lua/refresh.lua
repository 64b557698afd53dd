-- Refresh grants, each with a refresh token never used before: refresh tokens are single
-- use, and a reused one revokes its family (an error, not a measurement).
-- Arguments: path=, client_id=, client_secret=, tokens=<path> (reads <path><thread_id>.txt)
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = dir .. "?.lua;" .. package.path
local common = require("common")

local requests = {}

function init(args)
  local opts = common.parse(args)
  wrk.method = "POST"
  wrk.path = opts.path
  wrk.headers["Content-Type"] = "application/json"
  -- Built here, not per request: request() then only indexes a table.
  local template = '{"grant_type":"refresh_token","client_id":"' .. opts.client_id
    .. '","client_secret":"' .. opts.client_secret .. '","refresh_token":"%s"}'
  for token in io.lines(opts.tokens .. thread_id .. ".txt") do
    table.insert(requests, wrk.format(nil, nil, nil, string.format(template, token)))
  end
  used, exhausted = 0, 0
end

function request()
  if used >= #requests then
    -- Out of tokens: stop this thread rather than replay one; the driver reports the row
    -- as invalid (its rate would be understated).
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", "/bench-token-pool-exhausted", {}, nil)
  end
  used = used + 1
  return requests[used]
end
