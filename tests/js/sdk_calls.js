// Drives the vendor's official JS SDK (@gohighlevel/api-client) against a sandbox and prints what it got, as JSON.
// Run by tests/test_vendor_sdk_js.py: LCPHONE_BASE_URL, LCPHONE_TOKEN and LCPHONE_LOCATION say where;
// NODE_PATH says where the SDK was installed.
"use strict";
const { HighLevel } = require("@gohighlevel/api-client");

const baseURL = process.env.LCPHONE_BASE_URL;
const locationId = process.env.LCPHONE_LOCATION;

function client(apiVersion) {
  const ghl = new HighLevel({ privateIntegrationToken: process.env.LCPHONE_TOKEN, apiVersion, logLevel: "error" });
  ghl.getHttpClient().defaults.baseURL = baseURL; // the SDK's documented way to point it elsewhere
  return ghl;
}

async function attempt(call) {
  try {
    return { ok: true, body: await call() };
  } catch (error) {
    const response = error.response || {};
    const body = response.data !== undefined ? response.data : error.response;
    return { ok: false, status: error.statusCode || response.status, body, message: error.message };
  }
}

function search(ghl, numberTypes, firstPart, options) {
  return ghl.phoneSystem.availableNumbers({
    locationId, countryCode: "GB", numberTypes, firstPart, lastPart: "", anywhere: "",
    smsEnabled: false, mmsEnabled: false, voiceEnabled: false,
  }, options);
}

async function main() {
  const v3 = { headers: { Version: "v3" } };
  const atV3 = client(undefined); // the client-wide default Version (2023-02-21), overridden per call
  const results = {};
  results.bracketsSearch = await attempt(() => search(atV3, ["mobile", "tollFree"], "8", v3));
  results.commaSearch = await attempt(() => search(atV3, "mobile,tollFree", "7", v3));
  const found = results.bracketsSearch.body;
  const number = found.numbers[0];
  results.purchase = await attempt(() => atV3.phoneSystem.purchasePhoneNumber({ locationId }, {
    phoneNumber: number.phoneNumber, countryCode: number.isoCountry, numberType: number.price.number_type,
    addressSid: "AD" + "2".repeat(32), bundleSid: "BU" + "2".repeat(32), locality: "", region: "",
    paymentIntentId: "pi_js", stripeAccountId: "acct_js", paymentMethodId: "pm_js",
    fingerprintId: found.fingerprintId, skipLocationKYC: false,
  }, v3));
  results.active = await attempt(() => atV3.phoneSystem.activeNumbers({ locationId, pageSize: 10, page: 0, skipNumberPool: false }, v3));
  results.pools = await attempt(() => atV3.phoneSystem.getNumberPoolList({ locationId }, v3));
  results.defaultVersion = await attempt(() => atV3.phoneSystem.activeNumbers({ locationId }));

  const legacy = client("2021-07-28");
  results.legacySearch = await attempt(() => legacy.phoneSystem.availableNumbers({ locationId, countryCode: "US", numberTypes: ["tollFree"] }));
  const offer = results.legacySearch.body.numbers[0];
  results.legacyPurchase = await attempt(() => legacy.phoneSystem.purchasePhoneNumber({ locationId }, { phoneNumber: offer.phoneNumber }));
  results.legacyActive = await attempt(() => legacy.phoneSystem.activeNumbers({ locationId, skipNumberPool: false }));
  results.legacyPools = await attempt(() => legacy.phoneSystem.getNumberPoolList({}));
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
