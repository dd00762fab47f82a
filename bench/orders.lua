-- wrk script for POST /api/orders: every request gets its own Idempotency-Key and orders
-- one of several products (all orders of one product would queue on its row lock).
-- Arguments (after `--`): access token, a run id, then the product ids.
local counter = 0
local token, run_id
local products = {}

function init(args)
  token, run_id = args[1], args[2]
  for i = 3, #args do products[#products + 1] = args[i] end
  math.randomseed(os.time())
end

function request()
  counter = counter + 1
  local product = products[math.random(#products)]
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. run_id .. "-" .. counter,
  }, '{"items":[{"product_id":"' .. product .. '","quantity":1}]}')
end
