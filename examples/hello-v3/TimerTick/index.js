module.exports = async (context, timer) => {
  context.log(`TimerTick ran at ${new Date().toISOString()}${timer.isPastDue ? ' (past due)' : ''}`);
};
