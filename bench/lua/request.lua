-- One fixed request, repeated (wrk sends it without calling Lua per request).
-- Arguments: method=, path=, body=, header="Name: value" (repeatable),
--   delay=<ms>     pause before each request on a connection (a paced, not flat-out, load)
--   harvest=<path> append the refresh_token of every 200 answer to <path><thread_id>.txt,
--                  so a guest-grant run also mints the refresh-grant run's token pool.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = dir .. "?.lua;" .. package.path
local common = require("common")

function init(args)
  local opts = common.parse(args)
  wrk.method = opts.method or "GET"
  wrk.path = assert(opts.path, "path= is required")
  wrk.body = opts.body
  common.apply_headers(opts)

  if opts.delay then
    local ms = tonumber(opts.delay)
    delay = function() return ms end
  end

  if opts.harvest then
    -- Full buffering: stdio flushes it when wrk exits, and no write per answer.
    local file = assert(io.open(opts.harvest .. thread_id .. ".txt", "w"))
    file:setvbuf("full")
    harvested, non2xx = 0, 0
    response = function(status, headers, body)
      if status < 200 or status > 299 then
        non2xx = non2xx + 1
        return
      end
      local token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
      if token then
        file:write(token, "\n")
        harvested = harvested + 1
      end
    end
  end
end
