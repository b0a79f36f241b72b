const { app } = require('@azure/functions');

app.http('hello', {
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: async (request) => {
    const name = request.query.get('name') || (await request.text()) || 'world';
    return { status: 200, body: `Hello, ${name}!` };
  },
});
