'use strict';

// Least privilege for the shared execution role: a local Serverless Framework plugin.
//
// The framework gives its default role (IamRoleLambdaExecution) the permissions every
// event source needs, e.g. sqs:ReceiveMessage/DeleteMessage on a queue that one function
// consumes. serverless-iam-roles-per-function then gives that function a role of its own
// with the same permissions, but leaves them on the default role, which every function
// without iamRoleStatements shares: each HTTP route could then read and delete the queue's
// messages. After the per-function roles are made (this plugin is listed after that one),
// this keeps on the default role only the event-source resources of functions that still
// use it, and drops a statement left with none.

const EVENT_SOURCE_ACTIONS = new Set([
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:DescribeStream',
  'dynamodb:ListStreams',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:ListShards',
  'kinesis:ListStreams',
]);

class LeastPrivilege {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      'before:package:finalize': () => this.trimDefaultRole(),
    };
  }

  trimDefaultRole() {
    const provider = this.serverless.getProvider('aws');
    const naming = provider.naming;
    const service = this.serverless.service;
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    const defaultRoleId = naming.getRoleLogicalId();
    const defaultRole = resources[defaultRoleId];
    if (!defaultRole) return;

    // The event-source ARNs of the functions that still run with the default role.
    const needed = [];
    for (const name of service.getAllFunctions()) {
      const fnResource = resources[naming.getLambdaLogicalId(name)];
      const role = fnResource && fnResource.Properties.Role;
      const usesDefault = role && role['Fn::GetAtt'] && role['Fn::GetAtt'][0] === defaultRoleId;
      if (!usesDefault) continue;
      for (const event of service.getFunction(name).events || []) {
        const source = event.sqs || event.stream;
        if (source) needed.push(JSON.stringify(source.arn || source));
      }
    }

    for (const policy of defaultRole.Properties.Policies || []) {
      const document = policy.PolicyDocument;
      document.Statement = document.Statement.filter((statement) => {
        const actions = [].concat(statement.Action);
        if (!actions.every((action) => EVENT_SOURCE_ACTIONS.has(action))) return true;
        statement.Resource = [].concat(statement.Resource).filter((resource) =>
          needed.includes(JSON.stringify(resource))
        );
        return statement.Resource.length > 0;
      });
    }
  }
}

module.exports = LeastPrivilege;
