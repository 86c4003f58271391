'use strict';

// Role names that fit IAM's 64 characters in every stage: a local Serverless Framework plugin.
//
// serverless-iam-roles-per-function names a function's role
// <service>-<stage>-<function>-<region>-lambdaRole, drops "-lambdaRole" when that is too
// long, and refuses to package when it is still over 64 characters: with the service
// "invoiceflow-backend", stage "staging" and a function such as reconciliationImportsCreate
// it is 65. For those functions only, this sets iamRoleStatementsName (which that plugin
// honours) to <service>-<stage>-<function, cut>-<8 hex of a hash>-<region>: still readable,
// still unique (IAM role names are global to the account), the same on every deploy.
// Functions whose default name fits keep it.

const crypto = require('crypto');

const LIMIT = 64;

function roleName({ service, stage, region, functionName }) {
  const standard = `${service}-${stage}-${functionName}-${region}`;
  if (standard.length + '-lambdaRole'.length <= LIMIT) return `${standard}-lambdaRole`;
  if (standard.length <= LIMIT) return standard;
  const hash = crypto
    .createHash('sha256')
    .update(`${service}/${stage}/${functionName}/${region}`)
    .digest('hex')
    .slice(0, 8);
  const room = LIMIT - `${service}-${stage}--${hash}-${region}`.length;
  if (room < 8) {
    throw new Error(`deploy/role-names.js: "${service}-${stage}" leaves no room for role names`);
  }
  return `${service}-${stage}-${functionName.slice(0, room)}-${hash}-${region}`;
}

class RoleNames {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      // before serverless-iam-roles-per-function makes the roles (before:package:finalize)
      'before:package:compileFunctions': () => this.nameRoles(),
    };
  }

  nameRoles() {
    const provider = this.serverless.getProvider('aws');
    const service = this.serverless.service;
    for (const functionName of service.getAllFunctions()) {
      const fn = service.getFunction(functionName);
      if (!fn.iamRoleStatements || fn.iamRoleStatementsName) continue;
      const name = roleName({
        service: service.service,
        stage: provider.getStage(),
        region: provider.getRegion(),
        functionName,
      });
      if (!name.endsWith('-lambdaRole')) fn.iamRoleStatementsName = name;
    }
  }
}

module.exports = RoleNames;
module.exports.roleName = roleName;
