// Stub of @azure/functions for the sandbox: registrations are accepted and ignored.
const register = () => undefined;
module.exports = { app: new Proxy({}, { get: () => register }) };
