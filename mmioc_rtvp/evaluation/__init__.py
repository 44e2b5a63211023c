# Copyright (c) mmioc_rtvp contributors. All rights reserved.
