// Stub of left-pad for the sandbox.
module.exports = (text, length, fill = ' ') => String(text).padStart(length, fill);
