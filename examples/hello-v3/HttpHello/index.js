module.exports = async (context, req) => {
  const name = req.query?.name || req.body?.name || 'world';
  context.res = { status: 200, headers: { 'content-type': 'text/plain' }, body: `Hello, ${name}!` };
};
