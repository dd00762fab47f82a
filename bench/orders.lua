-- wrk script for POST /api/orders: every request gets its own Idempotency-Key.
-- Arguments (after `--`): access token, JSON body, a run id (keeps keys unique across runs).
local counter = 0
local token, body, run_id

function init(args)
  token, body, run_id = args[1], args[2], args[3]
end

function request()
  counter = counter + 1
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. run_id .. "-" .. counter,
  }, body)
end
