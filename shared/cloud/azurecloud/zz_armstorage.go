package azurecloud

import _ "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
