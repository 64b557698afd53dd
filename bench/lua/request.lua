-- One fixed request, repeated (wrk sends it without calling Lua per request).
-- Arguments: method=, path=, body=, header="Name: value" (repeatable),
--   delay=<ms>     pause before each request on a connection (a paced, not flat-out, load)
--   harvest=<path> append the refresh_token of every 2xx answer to <path><thread_id>.txt,
--                  so a guest-grant run also mints the refresh-grant run's token pool.
--   codes=1        with harvest=: append the code= of every redirect's Location instead,
--                  so GET authorize with a live session mints the code exchange's pool.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = dir .. "?.lua;" .. package.path
local common = require("common")

local function refresh_token_of(status, headers, body)
  if status >= 200 and status <= 299 then
    return body:match('"refresh_token"%s*:%s*"([^"]+)"')
  end
end

local function code_of(status, headers, body)
  if status == 302 or status == 303 then
    local location = headers["Location"] or headers["location"] or ""
    return location:match("[?&]code=([^&#]+)")
  end
end

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
    local find = opts.codes and code_of or refresh_token_of
    harvested, unexpected = 0, 0
    response = function(status, headers, body)
      local value = find(status, headers, body)
      if value then
        file:write(value, "\n")
        harvested = harvested + 1
      else
        unexpected = unexpected + 1
      end
    end
  end
end
